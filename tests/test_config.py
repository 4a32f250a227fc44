"""The loader turns feeds.yaml into values, or lists every problem with its place and line."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ereputation.config import (
    AlertSettings,
    Brand,
    EmailSettings,
    build_search_query,
    find_config_path,
    format_duration,
    load_config,
    parse_config,
    parse_duration,
    parse_size,
)
from ereputation.credentials import smtp_password
from ereputation.errors import ConfigError, MailError

REPO = Path(__file__).resolve().parents[1]

MINIMAL = """\
brands:
  - name: Atlas Télécom
sources:
  - url: https://news.example.ma/rss
"""


def problems_of(text: str, path: Path = Path("/etc/ereputation/feeds.yaml")) -> list[str]:
    """The problems ``parse_config`` reports for ``text``; fails the test if it accepts it."""
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), path)
    return caught.value.problems


def parse(text: str, path: Path = Path("/etc/ereputation/feeds.yaml")):
    return parse_config(textwrap.dedent(text), path)


# --------------------------------------------------------------------------- the example


def test_example_feeds_yaml_loads_and_holds_what_its_comments_promise() -> None:
    config = load_config(REPO / "feeds.yaml")
    atlas = config.brand("Atlas Télécom")
    assert "اتصالات الأطلس" in atlas.aliases
    assert atlas.alerts.surge_min == 8  # overridden for this brand …
    assert atlas.alerts.cooldown == config.alerts.cooldown  # … the rest inherited
    assert config.database == REPO / "ereputation.db"
    assert config.email.outbox == REPO / "outbox"
    assert config.email.smtp_host == "smtp.example.ma" and config.email.smtp_port == 587
    kinds = {source.kind for source in config.sources}
    assert kinds == {"feed", "page", "search"}
    searches = [s for s in config.sources if s.kind == "search"]
    assert {s.brand for s in searches} == {b.name for b in config.brands}


def test_example_feeds_yaml_documents_every_key_the_loader_accepts() -> None:
    from ereputation import config as module

    text = (REPO / "feeds.yaml").read_text(encoding="utf-8")
    tables = [
        module._TOP_FIELDS,
        module._BRAND_FIELDS,
        module._SOURCE_FIELDS,
        module._DIGEST_FIELDS,
        module._ALERT_FIELDS,
        module._EMAIL_FIELDS,
        module._FETCH_FIELDS,
    ]
    undocumented = {
        key
        for table in tables
        for key in table
        if not re.search(rf"(?m)^[ #-]*{key}(:| +\S)", text)
    }
    assert undocumented == set()


def test_the_feeds_yaml_of_design_md_loads() -> None:
    """DESIGN.md's snippet is the key contract with users: it must stay valid."""
    from conftest import SHARED

    design = SHARED / "DESIGN.md"
    if not design.is_file():
        pytest.skip("../shared/DESIGN.md is not beside the clone")
    snippet = re.search(
        r"## Configuration: feeds.yaml\n```yaml\n(.*?)```", design.read_text(), re.S
    )
    assert snippet, "DESIGN.md has no feeds.yaml snippet any more"
    config = parse(snippet[1])
    assert config.brand("Atlas Télécom").owned == ("atlastelecom.ma", "twitter.com/atlastelecom")
    assert [s.kind for s in config.sources] == ["feed", "page", "search"]
    assert config.email.smtp_port == 587 and config.email.sender.startswith("e-réputation")


# --------------------------------------------------------------------------- good values


def test_minimal_config_gets_the_documented_defaults(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    config = load_config(path)
    assert config.database == tmp_path / "ereputation.db"
    assert config.email.outbox == tmp_path / "outbox"
    assert config.email.smtp_host is None
    assert config.timezone == "Africa/Casablanca"
    assert config.poll_every == 900
    (source,) = config.sources
    assert source.name == "news.example.ma"  # the host when no name is given
    assert source.kind == "feed" and source.every == 900


def test_relative_paths_resolve_against_the_config_folder_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "feeds.yaml").write_text(
        MINIMAL + "database: data/mentions.db\nemail: {outbox: mails}\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    config = load_config("etc/feeds.yaml")
    assert config.path == folder / "feeds.yaml"
    assert config.database == folder / "data" / "mentions.db"
    assert config.email.outbox == folder / "mails"
    absolute = parse(MINIMAL + f"database: {tmp_path / 'x.db'}\n")
    assert absolute.database == tmp_path / "x.db"


def test_sizes_durations_and_source_every_are_converted() -> None:
    config = parse(
        """\
        poll_every: 1h30m
        brands: [{name: Atlas}]
        sources:
          - {url: "https://a.example.ma/rss"}
          - {url: "https://b.example.ma/rss", every: 2h}
        fetch: {max_size: 512KB, timeout: 1m, host_delay: 2s}
        alerts: {cooldown: 1d}
        """
    )
    assert config.poll_every == 5400
    assert [s.every for s in config.sources] == [5400, 7200]
    assert config.fetch.max_bytes == 512 * 1024
    assert config.fetch.timeout == 60 and config.fetch.host_delay == 2.0
    assert config.alerts.cooldown == 86400


def test_brand_alert_overrides_merge_over_the_global_alerts() -> None:
    config = parse(
        """\
        alerts: {cooldown: 2h, surge_min: 10, notify: ["json://hooks.example.ma/all"]}
        brands:
          - name: Atlas
            alerts: {surge_min: 3}
          - name: Sahara
        sources: [{url: "https://a.example.ma/rss"}]
        """
    )
    atlas, sahara = config.brands
    assert atlas.alerts == AlertSettings(
        cooldown=7200, surge_min=3, notify=("json://hooks.example.ma/all",)
    )
    assert sahara.alerts == config.alerts


def test_email_smtp_port_defaults_follow_the_tls_mode() -> None:
    plain = parse(MINIMAL + "email: {smtp: mail.example.ma}\n").email
    implicit = parse(MINIMAL + "email: {smtp: mail.example.ma, ssl: true}\n").email
    explicit = parse(MINIMAL + 'email: {smtp: "[::1]:2525", from: "Veille <v@example.ma>"}\n')
    assert (plain.smtp_host, plain.smtp_port, plain.starttls) == ("mail.example.ma", 587, True)
    assert (implicit.smtp_port, implicit.ssl, implicit.starttls) == (465, True, False)
    assert (explicit.email.smtp_host, explicit.email.smtp_port) == ("::1", 2525)
    assert explicit.email.sender == "Veille <v@example.ma>"


def test_top_level_x_keys_hold_yaml_anchors_for_reuse() -> None:
    config = parse(
        """\
        x-hourly: &hourly {every: 1h, full_text: never}
        brands: [{name: Atlas}]
        sources:
          - {<<: *hourly, url: "https://a.example.ma/rss"}
          - {<<: *hourly, url: "https://b.example.ma/rss", every: 2h}
        """
    )
    assert [(s.every, s.full_text) for s in config.sources] == [(3600, "never"), (7200, "never")]


# --------------------------------------------------------------------------- search sources


def test_search_source_expands_into_one_source_per_brand() -> None:
    config = parse(
        """\
        brands:
          - name: Atlas Télécom
            aliases: [Atlas Telecom, اتصالات الأطلس]
          - name: Sahara
            query: 'Sahara AND banque'
        sources:
          - name: Google News
            url: "https://news.google.com/rss/search?q={query}&hl=fr"
            kind: search
            every: 1h
        """
    )
    atlas, sahara = config.sources
    assert atlas.name == "Google News · Atlas Télécom"
    assert atlas.brand == "Atlas Télécom" and atlas.kind == "search" and atlas.every == 3600
    assert atlas.template == "https://news.google.com/rss/search?q={query}&hl=fr"
    query = atlas.url.removeprefix("https://news.google.com/rss/search?q=").split("&")[0]
    assert " " not in query and '"' not in query  # URL-encoded
    assert unquote(query) == '"Atlas Télécom" OR "Atlas Telecom" OR "اتصالات الأطلس"'
    # a brand's Boolean query is applied by the matcher, not sent to the search engine
    assert unquote(sahara.url.split("q=")[1].split("&")[0]) == '"Sahara"'


def test_search_query_drops_quotes_inside_terms_and_repeats() -> None:
    brand = Brand(name='Le "Grand" Atlas', aliases=("Le  Grand  Atlas", 'Le "Grand" Atlas'))
    assert build_search_query(brand) == '"Le  Grand  Atlas"'


# --------------------------------------------------------------------------- problems


def test_every_problem_is_reported_at_once_with_place_and_line() -> None:
    found = problems_of(
        """\
        timezone: Africa/Casablnca
        poll_every: often
        brands:
          - name: Atlas
            alias: [Atlas Telecom]
          - name: ""
        sources:
          - {name: A, url: "https://a.example.ma/rss"}
          - {name: B, url: "ftp://b.example.ma/rss"}
          - {name: C, url: "file:///etc/passwd"}
        digest:
          at: "25:00"
          language: ar
          to: [com@example.ma, not-an-address]
        """
    )
    assert found == [
        "timezone (line 1): unknown time zone 'Africa/Casablnca' — did you mean "
        "'Africa/Casablanca'?",
        "poll_every (line 2): 'often' is not a duration: write e.g. 90s, 15m, 6h, 1d or 1h30m",
        "brands[0].alias (line 5): unknown key — did you mean 'aliases'?",
        "brands[1].name (line 6): must not be empty",
        "sources[1].url (line 9): must be http or https (found ftp: in 'ftp://b.example.ma/rss')",
        "sources[2].url (line 10): must be http or https (found file: in 'file:///etc/passwd')",
        "digest.at (line 12): '25:00' is not a time of day: write \"HH:MM\", 00:00 to 23:59",
        "digest.language (line 13): must be one of fr | en, not 'ar'",
        "digest.to (line 14): 'not-an-address' is not an email address",
    ]


def test_error_message_names_the_file_and_tells_what_to_do() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("brands: 3\n", Path("/srv/feeds.yaml"))
    message = str(caught.value)
    assert "/srv/feeds.yaml" in message and "brands (line 1): must be a list" in message
    assert "sources: missing" in message
    assert caught.value.hint and caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("poll_every: 10s\n", "poll_every (line 5): must be between 1m and 7d, not 10s"),
        ("fetch: {max_size: lots}\n", "fetch.max_size (line 5): 'lots' is not a size"),
        ("fetch: {concurrency: 2, per_host: 4}\n", "fetch.per_host (line 5): 4 is more than"),
        ("fetch: {concurrency: true}\n", "fetch.concurrency (line 5): must be a whole number"),
        ("digest: {at: 8}\n", 'digest.at (line 5): must be a time such as "08:00" in quotes'),
        ("digest: {to: com@}\n", "digest.to (line 5): 'com@' is not an email address"),
        ("email: {smtp: 'smtp.example.ma:99999'}\n", "email.smtp (line 5): port 99999"),
        ("email: {smtp: 'smtp://x:25'}\n", "email.smtp (line 5): 'smtp://x:25' is not host:port"),
        ("email: {starttls: yes}\n", "email.starttls (line 5): must be true or false, not 'yes'"),
        ("email: {ssl: true, starttls: true}\n", "email.starttls (line 5): choose one"),
        ("email: {password_env: 'MY-PASS'}\n", "email.password_env (line 5): 'MY-PASS' is not"),
        ("email: {password_file: ../etc/shadow}\n", "email.password_file (line 5): '../etc/"),
        ("alerts: {negative_share: 1.5}\n", "alerts.negative_share (line 5): must be between"),
        ("alerts: {surge_factor: .nan}\n", "alerts.surge_factor (line 5): must be between"),
        ("alerts: {notify: [not a url]}\n", "alerts.notify (line 5): 'not a url' is not a"),
        ("alerts: [cooldown]\n", "alerts (line 5): must be a mapping of keys, not a list"),
        ("colour: blue\n", "colour (line 5): unknown key (known here: alerts, brands,"),
        ("feeds: []\n", "feeds (line 5): unknown key — did you mean 'sources'?"),
    ],
)
def test_each_kind_of_bad_value_is_named_with_its_place(extra: str, expected: str) -> None:
    text = "brands: [{name: Atlas}]\nsources:\n  - url: https://a.example.ma/rss\n\n" + extra
    found = problems_of(text)
    assert any(problem.startswith(expected) for problem in found), found


def test_password_in_yaml_is_refused_and_says_where_secrets_go() -> None:
    (problem,) = problems_of(MINIMAL + "email:\n  smtp: smtp.example.ma:587\n  password: hunter2\n")
    assert problem.startswith("email.password (line 7): secrets never go in feeds.yaml")
    assert "password_env" in problem and "CREDENTIALS_DIRECTORY" in problem
    assert "hunter2" not in problem  # never echo a secret back


def test_source_problems() -> None:
    found = problems_of(
        """\
        brands: [{name: Atlas}]
        sources:
          - {name: G, url: "https://news.example.ma/search?q=atlas", kind: search}
          - {name: H, url: "https://news.example.ma/search?q={query}"}
          - {name: I, url: "https://i.example.ma/", kind: page, selector: "a[href"}
          - {name: J, url: "https://j.example.ma/rss", selector: "h2 a"}
          - {name: K, url: "https://J.EXAMPLE.MA/rss"}
          - {name: L, kind: feed}
          - {name: M, url: "https://m.example.ma/rss", kind: atom, full_text: yes}
          - just a string
        """
    )
    assert found == [
        "sources[0].url (line 3): a search URL must contain {query} where the brand's search "
        "terms go, e.g. https://news.google.com/rss/search?q={query}",
        "sources[1].url (line 4): contains {query}: add `kind: search` to this source",
        "sources[2].selector (line 5): 'a[href' is not a CSS selector: "
        "Malformed attribute selector at position 1",
        "sources[3].selector (line 6): only used by sources of kind: page",
        "sources[4].url (line 7): same URL as sources[3]: list it once",
        "sources[5].url (line 8): missing: every source needs a url",
        "sources[6].kind (line 9): must be one of feed | page | search, not 'atom'",
        "sources[6].full_text (line 9): must be one of auto | always | never, not 'yes'",
        "sources[7] (line 10): must be a mapping of keys, not 'just a string'",
    ]


def test_brand_problems() -> None:
    found = problems_of(
        """\
        brands:
          - name: Atlas Télécom
          - name: ATLAS TELECOM
          - aliases: Atlas
          - name: 2M
            aliases: [ok, 42, ""]
            case_sensitive: "true"
            owned: [atlas telecom.ma]
            alerts: {cooldwn: 1h}
        sources: [{url: "https://a.example.ma/rss"}]
        """
    )
    assert found == [
        "brands[1].name (line 3): 'ATLAS TELECOM' is already the name of brands[0]",
        "brands[2].name (line 4): missing: every brand needs a name",
        "brands[3].aliases (line 6): item 2 must be text, not the number 42 — put it in quotes; "
        "item 3 must not be empty",
        "brands[3].case_sensitive (line 7): must be true or false, not 'true'",
        "brands[3].owned (line 8): 'atlas telecom.ma' must be a domain or URL prefix, "
        "without spaces",
        "brands[3].alerts.cooldwn (line 9): unknown key — did you mean 'cooldown'?",
    ]


def test_missing_sections_and_empty_lists() -> None:
    assert problems_of("timezone: UTC\n") == [
        "brands: missing: list at least one brand to watch",
        "sources: missing: list at least one feed or site to poll",
    ]
    assert problems_of("brands: []\nsources: []\n") == [
        "brands (line 1): lists no brand: add at least one",
        "sources (line 2): lists no source: add at least one",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty"),
        ("# only a comment\n", "the file is empty"),
        ("- a\n- b\n", "line 1: the top level must be a mapping of keys"),
        ("just words\n", "line 1: the top level must be a mapping of keys"),
        ("brands: [a\nsources: b\n", "line 2, column 8: not valid YAML: expected ',' or ']'"),
        ("brands:\n\t- name: x\n", "line 2, column 1: not valid YAML: found character '\\t'"),
        ("brands: []\nbrands: []\n", "line 2, column 1: not valid YAML: found duplicate key"),
        ("a: *nothing\n", "line 1, column 4: not valid YAML: found undefined alias"),
    ],
)
def test_unreadable_yaml_says_line_and_column_never_a_traceback(text: str, expected: str) -> None:
    (problem,) = problems_of(text)
    assert problem.startswith(expected), problem


def test_a_huge_value_does_not_drown_the_other_problems() -> None:
    found = problems_of(MINIMAL + f"timezone: {'a' * 5000}\npoll_every: soon\n")
    assert len(found) == 2 and len(found[0]) < 450 and found[0].endswith("…")


def test_tabs_get_a_hint() -> None:
    (problem,) = problems_of("brands:\n\t- name: x\n")
    assert problem.endswith("(YAML indents with spaces, not tabs)")


def test_file_level_problems(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("brands:\n  - name: T\xe9l\xe9com\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="line 2: not UTF-8 text"):
        load_config(latin1)
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode("utf-8"))
    assert load_config(bom).brands[0].name == "Atlas Télécom"


def test_brand_query_is_checked_when_the_query_module_exists() -> None:
    pytest.importorskip("ereputation.query")
    (problem,) = problems_of(
        """\
        sources: [{url: "https://a.example.ma/rss"}]
        brands:
          - name: Sahara
            query: '(Sahara AND'
        """
    )
    assert problem == (
        "brands[0].query (line 4): '(Sahara AND' is not a valid query: "
        "the query ends where a term was expected (after AND, OR or NOT?)"
    )


# --------------------------------------------------------------------------- durations, sizes


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("6h", 21600), ("1d", 86400), ("1h30m", 5400), ("2w", 1209600),
     (" 1H 30M ", 5400), ("120", 120), (45, 45), ("0s", 0)],
)  # fmt: skip
def test_parse_duration(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "15", "1.5h", "-5m", "15 minutes", "1y", "١٥m"])
def test_parse_duration_refuses_with_a_message(text: str) -> None:
    if text == "15":
        assert parse_duration(text) == 15  # digits alone are seconds
        return
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_parse_duration_refuses_non_text() -> None:
    for value in (True, None, 1.5, [1], -3):
        with pytest.raises(ValueError):
            parse_duration(value)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=10**9))
def test_parse_duration_round_trips_format_duration(seconds: int) -> None:
    spelled = format_duration(seconds)
    assert parse_duration(spelled) == seconds
    assert spelled == "0s" or not spelled.startswith("0")


@pytest.mark.parametrize(
    ("text", "size"),
    [("10MB", 10 * 1024**2), ("512KB", 512 * 1024), ("1 GB", 1024**3), ("1.5k", 1536),
     ("2MiB", 2 * 1024**2), ("100", 100), (4096, 4096)],
)  # fmt: skip
def test_parse_size(text: str | int, size: int) -> None:
    assert parse_size(text) == size


# --------------------------------------------------------------------------- finding the file


def test_find_config_path_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EREPUTATION_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="no configuration found"):
        find_config_path(None)
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text(MINIMAL, encoding="utf-8")
    monkeypatch.setenv("EREPUTATION_CONFIG", str(elsewhere))
    assert find_config_path(None) == elsewhere
    (tmp_path / "feeds.yaml").write_text(MINIMAL, encoding="utf-8")
    assert find_config_path(None) == Path("feeds.yaml")  # ./feeds.yaml wins over the variable
    assert find_config_path(str(elsewhere)) == elsewhere  # -c wins over both
    with pytest.raises(ConfigError, match="given with -c"):
        find_config_path(str(tmp_path / "typo.yaml"))
    (tmp_path / "feeds.yaml").unlink()
    monkeypatch.setenv("EREPUTATION_CONFIG", str(tmp_path / "gone.yaml"))
    with pytest.raises(ConfigError, match="named by \\$EREPUTATION_CONFIG"):
        find_config_path(None)


# --------------------------------------------------------------------------- credentials


def test_smtp_password_from_the_environment_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "smtp_password").write_text("from-file\n", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    monkeypatch.setenv("MY_SMTP_PASS", "from-env")
    assert smtp_password(EmailSettings(password_env="MY_SMTP_PASS")) == "from-env"


def test_smtp_password_from_systemd_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    monkeypatch.setenv("EREPUTATION_SMTP_PASSWORD", "")  # empty counts as unset
    (tmp_path / "smtp_password").write_text(" p@ss wörd \n", encoding="utf-8")
    assert smtp_password(EmailSettings()) == " p@ss wörd "  # only the newline is dropped
    (tmp_path / "other").write_text("s3cret", encoding="utf-8")
    assert smtp_password(EmailSettings(password_file="other")) == "s3cret"


def test_smtp_password_none_when_nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EREPUTATION_SMTP_PASSWORD", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert smtp_password(EmailSettings()) is None
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert smtp_password(EmailSettings()) is None  # the folder exists, the file does not


def test_smtp_password_unusable_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EREPUTATION_SMTP_PASSWORD", raising=False)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    (tmp_path / "smtp_password").write_text("\n", encoding="utf-8")
    with pytest.raises(MailError, match="the file is empty") as caught:
        smtp_password(EmailSettings())
    assert "EREPUTATION_SMTP_PASSWORD" in caught.value.hint
    if os.geteuid() != 0:  # root reads anything
        (tmp_path / "smtp_password").write_text("x", encoding="utf-8")
        (tmp_path / "smtp_password").chmod(0)
        with pytest.raises(MailError, match="cannot read"):
            smtp_password(EmailSettings())


# --------------------------------------------------------------------------- properties

yaml_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["15m", "1h30m", "08:00", "25:00", "https://a.example.ma/{query}", "fr"]),
)
keys = st.one_of(
    st.sampled_from(
        ["brands", "sources", "name", "url", "kind", "every", "digest", "to", "at", "email",
         "smtp", "alerts", "fetch", "aliases", "password", "timezone", "database", "search"]
    ),
    st.text(min_size=1, max_size=12),
)  # fmt: skip
yaml_values = st.recursive(
    yaml_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)


def _dump(value: object) -> str:
    import yaml

    return yaml.safe_dump(value, allow_unicode=True)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(keys, yaml_values, max_size=8))
def test_random_mappings_give_a_config_or_a_config_error(data: dict[str, object]) -> None:
    try:
        parse_config(_dump(data), Path("/tmp/feeds.yaml"))
    except ConfigError as err:
        assert err.problems and all(isinstance(p, str) and p for p in err.problems)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_text_gives_a_config_or_a_config_error(text: str) -> None:
    try:
        parse_config(text, Path("/tmp/feeds.yaml"))
    except ConfigError as err:
        assert err.problems


def test_relative_paths_follow_the_state_directory_under_systemd(tmp_path, monkeypatch):
    config = tmp_path / "etc" / "feeds.yaml"
    config.parent.mkdir()
    config.write_text(
        "database: x.db\nbrands: [{name: A}]\nsources: [{url: 'https://a.example/rss'}]\n"
        "email: {outbox: mails}\n",
        encoding="utf-8",
    )
    monkeypatch.delenv("EREPUTATION_STATE_DIR", raising=False)
    assert load_config(config).database == config.parent / "x.db"
    monkeypatch.setenv("EREPUTATION_STATE_DIR", str(tmp_path / "state"))
    loaded = load_config(config)
    assert loaded.database == tmp_path / "state" / "x.db"
    assert loaded.email.outbox == tmp_path / "state" / "mails"
