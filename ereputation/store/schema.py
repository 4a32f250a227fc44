"""The database schema, as numbered migrations applied in order (``PRAGMA user_version``).

The table and column names are a contract with users' ad-hoc SQL (docs/schema.md documents
them): add freely, rename or remove only through a new migration and a changelog note.
Timestamps are UTC ISO-8601 strings (``2026-11-26T08:00:00+00:00``) so they sort as text.
"""

from __future__ import annotations

# "ERep" in ASCII: lets us refuse to migrate a stranger's SQLite file.
APPLICATION_ID = 0x45526570

MIGRATIONS: list[str] = [
    # 1: the tables of DESIGN.md.
    """
    CREATE TABLE sources (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,          -- as polled (kind=search: expanded for one brand)
        name TEXT NOT NULL,
        kind TEXT NOT NULL,                -- feed | page | search
        brand TEXT,                        -- kind=search: the brand searched for
        etag TEXT,                         -- validators for the next conditional GET
        last_modified TEXT,
        last_polled_at TEXT,               -- null if never polled
        last_ok_at TEXT,                   -- null if never polled successfully
        next_poll_at TEXT,                 -- earliest next poll (backoff, Retry-After)
        failures INTEGER NOT NULL DEFAULT 0,   -- consecutive failures; 0 after a success
        last_error TEXT,                   -- null after a success
        last_status INTEGER,               -- last HTTP status
        items_seen INTEGER NOT NULL DEFAULT 0, -- items read over the source's life
        feed_url TEXT                      -- kind=page: the feed the page advertises, if any
    );

    CREATE TABLE stories (
        id INTEGER PRIMARY KEY,
        title TEXT,                        -- the first article's title
        fingerprint TEXT,                  -- near-duplicate signature of the first article
        first_article_id INTEGER,
        first_seen_at TEXT NOT NULL,       -- earliest publication (or fetch) time
        updated_at TEXT NOT NULL
    );

    CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,          -- canonical URL (tracking parameters removed)
        source_id INTEGER REFERENCES sources(id),  -- the source it was first found through
        outlet TEXT NOT NULL,              -- host of the URL without www. (le360.ma)
        guid TEXT,
        title TEXT,
        summary TEXT,
        content TEXT,                      -- full text when fetched, else the feed's content
        author TEXT,
        published_at TEXT,                 -- null when no date could be found: never invented
        fetched_at TEXT NOT NULL,
        language TEXT,                     -- en | fr | ar | arabizi | null (unknown)
        content_hash TEXT NOT NULL,        -- of the normalised text: exact-copy detection
        story_id INTEGER REFERENCES stories(id)
    );
    CREATE INDEX articles_story ON articles(story_id);
    CREATE INDEX articles_published ON articles(published_at);
    CREATE INDEX articles_hash ON articles(content_hash);

    -- Items that mentioned no brand: remembered by a hash so they are never processed twice.
    CREATE TABLE seen_items (
        source_id INTEGER NOT NULL,
        item_hash TEXT NOT NULL,           -- sha1 of the item's guid (or link)
        seen_at TEXT NOT NULL,
        PRIMARY KEY (source_id, item_hash)
    ) WITHOUT ROWID;

    CREATE TABLE mentions (
        id INTEGER PRIMARY KEY,
        article_id INTEGER NOT NULL REFERENCES articles(id),
        brand TEXT NOT NULL,
        matched TEXT,                      -- the words that matched (why it is a mention)
        snippet TEXT,                      -- the text around the hit
        sentiment REAL,                    -- -1 ... 1; null when the text could not be scored
        label TEXT,                        -- positive | negative | neutral | null (unscored)
        owned INTEGER NOT NULL DEFAULT 0,  -- 1: the brand's own voice (its `owned` entries)
        mentioned_at TEXT NOT NULL,        -- publication time, else when first fetched
        found_at TEXT NOT NULL,            -- when the daemon stored it
        UNIQUE (article_id, brand)
    );
    CREATE INDEX mentions_brand_at ON mentions(brand, mentioned_at);
    CREATE INDEX mentions_found ON mentions(found_at);

    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        brand TEXT NOT NULL,
        kind TEXT NOT NULL,                -- surge | negative_wave | new_voice | spreading_story
        key TEXT NOT NULL DEFAULT '',      -- what it is about (outlet, story id) for dedup
        details TEXT NOT NULL,             -- JSON: the numbers that made it fire, and why
        fired_at TEXT NOT NULL,
        sent_at TEXT,                      -- null until a mail server accepted it
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );
    CREATE INDEX alerts_brand_kind ON alerts(brand, kind, fired_at);

    CREATE TABLE digests (
        id INTEGER PRIMARY KEY,
        date TEXT NOT NULL,                -- the local day it covers (YYYY-MM-DD)
        recipient TEXT NOT NULL,           -- an address, or 'outbox' with no recipients
        language TEXT NOT NULL,
        status TEXT NOT NULL,              -- pending | sent | failed
        built_at TEXT NOT NULL,
        sent_at TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        message_id TEXT,
        UNIQUE (date, recipient)
    );

    CREATE VIEW mentions_full AS
    SELECT m.id, m.brand, m.owned, m.label, m.sentiment, m.snippet, m.matched,
           m.mentioned_at, m.found_at, a.id AS article_id, a.title, a.url, a.outlet,
           a.language, a.published_at, a.story_id, s.name AS source
    FROM mentions m JOIN articles a ON a.id = m.article_id
    LEFT JOIN sources s ON s.id = a.source_id;

    CREATE VIEW mentions_daily AS
    SELECT brand, substr(mentioned_at, 1, 10) AS day,
           count(*) AS mentions,
           sum(owned) AS owned,
           sum(1 - owned) AS third_party,
           sum(label = 'positive') AS positive,
           sum(label = 'negative') AS negative,
           sum(label = 'neutral') AS neutral,
           sum(label IS NULL) AS unscored,
           round(avg(sentiment), 3) AS avg_sentiment
    FROM mentions GROUP BY brand, day;

    -- Full-text search over articles, kept in step by triggers (Datasette finds it too):
    -- SELECT * FROM articles WHERE id IN
    --   (SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'panne');
    CREATE VIRTUAL TABLE articles_fts USING fts5(
        title, summary, content, content='articles', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts (rowid, title, summary, content)
        VALUES (new.id, new.title, new.summary, new.content);
    END;
    CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts (articles_fts, rowid, title, summary, content)
        VALUES ('delete', old.id, old.title, old.summary, old.content);
    END;
    CREATE TRIGGER articles_au AFTER UPDATE OF title, summary, content ON articles BEGIN
        INSERT INTO articles_fts (articles_fts, rowid, title, summary, content)
        VALUES ('delete', old.id, old.title, old.summary, old.content);
        INSERT INTO articles_fts (rowid, title, summary, content)
        VALUES (new.id, new.title, new.summary, new.content);
    END;
    """,
    # 2: mail retries need to know when the next attempt is due (exponential backoff), so a
    # failing SMTP server is retried without hammering it and without sleeping in the daemon.
    """
    ALTER TABLE alerts ADD COLUMN next_attempt_at TEXT;   -- null: try at the next check
    ALTER TABLE digests ADD COLUMN next_attempt_at TEXT;  -- null: try at the next check
    CREATE INDEX alerts_unsent ON alerts(sent_at, fired_at);
    """,
    # 3: a digest now covers the mentions *found* (mentions.found_at) since the previous sent
    # digest, not those published on one day: an article published on day D but fetched after
    # D's digest went out was in no digest.  `digests.date` becomes the local day the digest is
    # sent on; the window it covered is stored so the next one starts exactly where it ended
    # (half-open: period_start <= found_at < period_end).  Null in rows written before.
    """
    ALTER TABLE digests ADD COLUMN period_start TEXT;  -- UTC; first found_at covered
    ALTER TABLE digests ADD COLUMN period_end TEXT;    -- UTC; found_at before this covered
    CREATE INDEX digests_recipient_sent ON digests(recipient, status, period_end);
    """,
    # 4: the link to show and click. ``url`` is an identity key (``www.`` dropped, which not
    # every site serves); ``link`` is the URL as published, minus tracking parameters.
    """
    ALTER TABLE articles ADD COLUMN link TEXT;            -- null for rows older than this
    DROP VIEW mentions_full;
    CREATE VIEW mentions_full AS
    SELECT m.id, m.brand, m.owned, m.label, m.sentiment, m.snippet, m.matched,
           m.mentioned_at, m.found_at, a.id AS article_id, a.title,
           coalesce(a.link, a.url) AS url, a.url AS canonical_url, a.outlet,
           a.language, a.published_at, a.story_id, s.name AS source
    FROM mentions m JOIN articles a ON a.id = m.article_id
    LEFT JOIN sources s ON s.id = a.source_id;
    """,
    # 5: the digest's "new outlets" looks up a brand's older mentions by outlet; without this
    # index it grouped every mention of the brand (3.8 s for a digest over 1 M mentions,
    # bench/archive.py).
    """
    CREATE INDEX articles_outlet ON articles(outlet);
    """,
    # 6: signals are about new mentions, so detection need not read every brand's 15 days of
    # history again when nothing was stored since it last did (0.14 s a cycle at 7,000
    # mentions, most of an all-unchanged poll: bench/scale.py).  One row: how far it looked,
    # and when a signal it held back (cooldown) may fire, which also calls for a new look.
    """
    CREATE TABLE detection_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        last_mention_id INTEGER NOT NULL,  -- the newest mentions.id detection has seen
        settings TEXT NOT NULL,            -- the brands and alert settings it ran with
        checked_at TEXT NOT NULL,          -- UTC
        recheck_at TEXT                    -- UTC: when a signal held by a cooldown is free
    );
    """,
    # 7: many servers ignore conditional GET and send the same feed again and again; its hash
    # tells the next poll there is nothing to parse (bench/scale.py: an all-unchanged pass no
    # longer loads the feed parsers just to re-read the broken feeds).  Its verdict is
    # `last_error`: null when the body was read whole.
    """
    ALTER TABLE sources ADD COLUMN body_hash TEXT;  -- sha1 of the last body judged; null: none
    """,
    # 8: each alert check asks when a brand's first mention was stored (new voices wait for
    # the first poll's backlog to settle); without this index it read every mention of the
    # brand (47 ms for 31,000 at 10,000 feeds, per brand and check, growing with the archive).
    """
    CREATE INDEX mentions_brand_found ON mentions(brand, found_at);
    """,
]
