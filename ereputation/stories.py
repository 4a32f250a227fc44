"""Near-duplicate detection: one story, however many outlets copy or rewrite it.

Agencies' dispatches are republished by every outlet, lightly rewritten: sentences moved,
synonyms, another title, a quote cut.  Users want one story with its outlets, not ten hits.

Design (see docs/extraction.md for the measurements):

- **Normalisation** that works for French and Arabic: NFKD then no combining marks
  (French accents, Arabic harakat), case folded, Arabic letter forms unified
  (أ إ آ ٱ → ا, ى → ي, ة → ه, ؤ → و, ئ → ي, no tatweel), Arabic-Indic digits → 0-9,
  punctuation → space; the article ``ال`` and the clitics ``و ف ب ك ل`` before it are
  stripped, French elisions fall off with the punctuation, a final plural ``s``/``x`` too;
  stop words of fr/en/ar are dropped.
- **Features**: the set of content words of the title and of the *lead* (the first
  ``LEAD_WORDS`` content words of the text).  Single words, not shingles: a light rewrite
  reorders clauses, which breaks most shingles but keeps the words.  The lead, not the whole
  text: rewrites keep the facts of the lead, outlets add or cut context further down, and a
  feed summary then compares fairly with a full article.
- **MinHash** of that set with ``PERMUTATIONS`` hash functions: the share of equal slots
  estimates the Jaccard similarity of two feature sets.  The fingerprint is text
  (``m1:`` + hex), so it goes in ``stories.fingerprint`` as is.
- **Index**: ``story_keys`` cuts the signature into ``BANDS`` bands (LSH banding); two
  stories share at least one key with probability ``1 - (1 - J**r)**BANDS`` — about 0.95
  at the ``THRESHOLD`` similarity (0.30), 0.27 at 0.10 — so the store can look up
  candidates by key and confirm each with ``same_story``, instead of scanning every story.
  Scanning is also fine: ``story_similarity`` costs a few microseconds.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from functools import lru_cache
from itertools import chain

import numpy as np

from ereputation.token_memo import TokenMemo

PERMUTATIONS = 64
BANDS = 32  # of PERMUTATIONS // BANDS rows each
LEAD_WORDS = 80
THRESHOLD = 0.30  # estimated Jaccard of content words at and above which two items are one story
_VERSION = "m1"
_PRIME = (1 << 31) - 1  # a Mersenne prime; features and coefficients are below it
_EMPTY = "e"  # fingerprint of an item without words: it matches nothing
_PREFIX = f"{_VERSION}:"
_LENGTH = len(_PREFIX) + PERMUTATIONS * 8  # of a fingerprint that holds a signature

_ARABIC_FORMS = str.maketrans(
    {
        "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي",
        "ـ": None, "٠": "0", "١": "1", "٢": "2", "٣": "3", "٤": "4", "٥": "5", "٦": "6",
        "٧": "7", "٨": "8", "٩": "9", "۰": "0", "۱": "1", "۲": "2", "۳": "3", "۴": "4",
        "۵": "5", "۶": "6", "۷": "7", "۸": "8", "۹": "9",
    }
)  # fmt: skip
_ARABIC_ARTICLE = re.compile(r"^(?:و|ف)?(?:ب|ك|ل)?(?:ال|لل)(?=\w{2,})")
_WORD = re.compile(r"\w+")
_ARABIC_LETTER = re.compile(r"[\u0600-\u06ff]")

_STOP_WORDS: frozenset[str] = frozenset(
    # French
    "le la les un une des du de d l au aux et ou mais donc or ni car ce cet cette ces se sa son"
    " ses leur leurs en dans par pour sur sous avec sans entre chez vers a est ont sont ete etre"
    " avoir fait qui que quoi dont ou il elle ils elles on nous vous je tu ne pas plus moins"
    " tres aussi comme si y selon apres avant depuis lors alors tout tous toute toutes meme"
    " qu c n s j m t"
    # English
    " the an of to in on at for with by from and or but is are was were be been has have had"
    " it its this that these those as not which who will would said says"
    # Arabic (after normalisation: forms unified, article stripped)
    " في من الي علي عن مع ان او ثم قد لقد كان كانت هذا هذه ذلك تلك التي الذي الذين و ف ب ل"
    " ما لا لم لن هو هي هم كما حيث بين بعد قبل عند خلال حول وقال قال وقالت قالت ايضا يوم"
    " او وفي وهو وهي به بها له لها فيه فيها منه منها عليه عليها".split()
)


class _Normalisation(dict[int, str]):
    """``str.translate`` table of the per-character part of the normalisation, built lazily.

    Case folding, NFKD without combining marks, Arabic letter forms and ``_`` (which joins
    two words into one) all act on one character at a time, so one C-level ``translate``
    does them all: about 10 times faster than a Python loop over the characters.
    """

    def __missing__(self, code: int) -> str:
        folded = unicodedata.normalize("NFKD", chr(code).casefold())
        folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
        self[code] = folded = folded.translate(_ARABIC_FORMS).replace("_", "")
        return folded


_NORMALISATION = _Normalisation()


_PIECE = 2000  # characters normalised at once when only the first words are needed


def normalise_words(text: str, limit: int | None = None) -> list[str]:
    """Content words of ``text`` after normalisation (see the module docstring).

    ``limit``: only the first ``limit`` words are needed (a long text is then read a piece at
    a time, cut at spaces, until there are enough).

    Every step acts on one character (``_NORMALISATION``) or one word, and no character
    that ``str.split`` takes for a space becomes part of a word, so the words of the text are
    those of its whitespace-separated tokens, one after another.  Tokens recur across
    articles, so each token's words are kept: normalising every character cost ~60 % of a
    fingerprint (docs/benchmarks.md, eighth round).
    """
    if limit is not None and limit <= 0:
        return []
    words_of = _TOKEN_WORDS
    words: list[str] = []
    start, size = 0, len(text)
    while start < size:
        end = size if limit is None else text.find(" ", start + _PIECE)
        if end < 0:
            end = size
        words += chain.from_iterable(map(words_of.__getitem__, text[start:end].split()))
        if limit is not None and len(words) >= limit:
            return words[:limit]
        start = end
    return words


def _token_words(token: str) -> tuple[str, ...]:
    """A word equal to its token is kept as the token itself: the memo holds one string
    for both (most tokens of a news text are already lower-case words)."""
    return tuple(
        token if word == token else word for word in _content_words(token.translate(_NORMALISATION))
    )


_TOKEN_WORDS = TokenMemo(_token_words)  # ~10 MB when full


def _content_words(normalised: str) -> list[str]:
    """The content words of a normalised text, in order."""
    words: list[str] = []
    for word in _WORD.findall(normalised):
        if _ARABIC_LETTER.search(word):
            word = _ARABIC_ARTICLE.sub("", word)
        elif len(word) > 3 and word[-1] in "sx" and not word.isdigit():
            word = word[:-1]
        if len(word) > 1 and word not in _STOP_WORDS:
            words.append(word)
    return words


def story_features(title: str, text: str) -> set[str]:
    """The set a fingerprint summarises: content words of the title and of the lead."""
    return set(normalise_words(title or "")) | set(normalise_words(text or "", LEAD_WORDS))


def story_fingerprint(title: str, text: str) -> str:
    """A compact, storable (TEXT) signature of the story told by ``title`` and ``text``.

    Deterministic across processes and machines (no ``hash()``, fixed seeds).  An item with
    no words gets a fingerprint that is similar to nothing.
    """
    features = story_features(title, text)
    if not features:
        return f"{_VERSION}:{_EMPTY}"
    digests = np.frombuffer(_digests(features), dtype=">u4")
    values = digests.astype(np.uint64) % np.uint64(_PRIME)
    return f"{_VERSION}:{_min_hashes(values).astype('>u4').tobytes().hex()}"


def _min_hashes(values: np.ndarray) -> np.ndarray:
    """For each permutation, the minimum of ``(a*x + b) mod p`` over the feature values ``x``.

    With a, x < p = 2**31 - 1 the product wraps around p many times (a good permutation) and
    stays below 2**62, so uint64 arithmetic does not overflow.  Two shortcuts, same numbers:

    - one flat array of (feature, permutation) pairs, so that each numpy operation is one
      contiguous loop (a column broadcast against a row costs one loop per row);
    - ``mod p`` by folding instead of a uint64 division (the most expensive step): 2**31 ≡ 1,
      so ``t ≡ (t & p) + (t >> 31) = s``.  As t <= (p-1)**2 + (p-1) < (2**31 - 2) * 2**31,
      s <= (2**31 - 1) + (2**31 - 3) < 2p, so ``min(s, s - p)`` (the subtraction wraps
      around to a huge number when s < p) is exactly t mod p.
    """
    count = len(values)
    if count <= _TILED:
        a, b = _tiled_coefficients()
    else:  # a very long title: not worth keeping coefficients for
        a, b = (np.tile(c, count) for c in _coefficients())
    size = count * PERMUTATIONS
    hashed = np.repeat(values, PERMUTATIONS)
    hashed *= a[:size]
    hashed += b[:size]
    folded = hashed >> np.uint64(31)
    hashed &= np.uint64(_PRIME)
    hashed += folded
    np.subtract(hashed, np.uint64(_PRIME), out=folded)
    np.minimum(hashed, folded, out=hashed)
    return hashed.reshape(count, PERMUTATIONS).min(axis=0)


def story_similarity(a: str, b: str) -> float:
    """Estimated Jaccard similarity (0…1) of the stories behind two fingerprints.

    Fingerprints that are empty, malformed or of another version have similarity 0.
    """
    sig_a, sig_b = _signature(a), _signature(b)
    if sig_a is None or sig_b is None:
        return 0.0
    return float(np.count_nonzero(sig_a == sig_b)) / PERMUTATIONS


def same_story(a: str, b: str) -> bool:
    """Whether two fingerprints are one story (copy or light rewrite): similarity >= THRESHOLD."""
    return story_similarity(a, b) >= THRESHOLD


def confirmed_members(members: Sequence[tuple[str, str]]) -> list[bool]:
    """For each (title, text) of one story's articles, the first being the one that started
    it (whose fingerprint is the story's), whether its words are that article's as
    ``same_story`` requires, counted exactly instead of estimated.  The first is confirmed.

    The store checks each join so (``joins``, from ``StoryIndex.find``), but stories stored
    before it did were joined on the estimate alone: with 64 slots it is off by ~0.05 near
    the threshold, so now and then an article whose words share only ~0.2 with a story's (the
    same boilerplate, the same brand and topic) joined it.  Counted as an outlet picking the
    story up, it would send a false alarm, and listed under it, it would tell the digest's
    reader so: the spreading-story alert and the digest's stories count only the members this
    confirms (the benchmark's template corpus did this: docs/benchmarks.md, nineteenth
    session).  Against the first article, as the index compares: two joiners that only
    resemble each other are another story, not this one.
    """
    if not members:
        return []
    first = story_features(*members[0])
    return [True] + [joins(story_features(*member), first) for member in members[1:]]


def joins(words: set[str], first: Collection[str]) -> bool:
    """Whether an article with features ``words`` tells the story whose first article has
    features ``first``: ``same_story``'s threshold on the Jaccard similarity, counted.  The
    one rule of the store's joins and of ``confirmed_members``."""
    return jaccard(words, first) >= THRESHOLD


def jaccard(a: set[str], b: Collection[str]) -> float:
    """The Jaccard similarity of two feature sets, counted (what a fingerprint estimates);
    0 when both are empty.  ``b`` may be any collection of distinct features (a tuple is a
    fifth of a set's memory, for one that is kept)."""
    shared = len(a.intersection(b))
    union = len(a) + len(b) - shared
    return shared / union if union else 0.0


def story_keys(fingerprint: str) -> list[str]:
    """LSH band keys of a fingerprint, for an index: similar stories share at least one key.

    Keys look like ``m1.7.0a1b2c3d4e5f6a7b`` (version, band number, band hash); an empty or
    malformed fingerprint has no keys.
    """
    signature = _signature(fingerprint)
    if signature is None:
        return []
    rows = PERMUTATIONS // BANDS
    return [
        f"{_VERSION}.{band}.{signature[band * rows : (band + 1) * rows].tobytes().hex()}"
        for band in range(BANDS)
    ]


def story_signature(fingerprint: str) -> np.ndarray | None:
    """The MinHash signature inside a fingerprint (``PERMUTATIONS`` uint32), or None when it
    is empty, malformed or of another version.  Not cached: for an index that keeps it."""
    return _signature.__wrapped__(fingerprint)


def story_signatures(fingerprints: Sequence[str]) -> tuple[list[int], np.ndarray]:
    """``story_signature`` of many fingerprints at once: the positions of those that hold one,
    and their signatures, a row each (native byte order)."""
    at = [i for i, f in enumerate(fingerprints) if len(f) == _LENGTH and f.startswith(_PREFIX)]
    try:
        joined = bytes.fromhex("".join([fingerprints[i][len(_PREFIX) :] for i in at]))
    except ValueError:
        joined = b""
    if len(joined) != len(at) * PERMUTATIONS * 4:  # one is not hex: each is read on its own
        parsed = [(i, story_signature(fingerprints[i])) for i in at]
        kept = [(i, row) for i, row in parsed if row is not None and len(row) == PERMUTATIONS]
        matrix = np.array([row for _, row in kept], dtype=np.uint32)
        return [i for i, _ in kept], matrix.reshape(len(kept), PERMUTATIONS)
    matrix = np.frombuffer(joined, dtype=">u4").reshape(len(at), PERMUTATIONS)
    return at, matrix.astype(np.uint32)


# One odd constant per band, so that equal rows in two bands give two keys.
_BAND_SALT = np.array([(band * 0x9E3779B97F4A7C15) % (1 << 64) for band in range(BANDS)],
                      dtype=np.uint64)  # fmt: skip
_MIX = np.uint64(0x100000001B3)


def band_keys(signature: np.ndarray) -> np.ndarray:
    """The LSH band keys of ``story_keys`` as ``BANDS`` uint64 (two bands' keys may collide,
    which only adds a candidate that ``same_story`` then turns down); for a matrix of
    signatures (one a row), a row of keys for each."""
    parts = signature.reshape(*signature.shape[:-1], BANDS, -1).astype(np.uint64)
    keys = parts[..., 0]  # the first column mixed into 0: itself
    for column in range(1, parts.shape[-1]):
        keys = keys * _MIX ^ parts[..., column]  # wraps around 2**64, as meant
    return keys ^ _BAND_SALT


class SignatureIndex:
    """Stories' signatures, to find the story a new signature belongs to.

    Memory shapes it: a first pass over 10,000 feeds holds ~70,000 recent stories, and every
    byte a story costs here is 70 KB there.  Each story keeps, in rows of arrays that grow by
    a quarter when full (doubling left up to half of them empty):

    - its signature (256 bytes), and its slots' low bytes (``_sketches``, 64 bytes): two
      equal slots have equal low bytes, so a candidate that fails the threshold on them fails
      it on the whole slots too, and most candidates (unrelated stories that share one band)
      are turned down reading a quarter of the memory (``_sketch_equal``); the few left are
      compared whole (``find``).  Slots cut to 16 bits were tried: one false equal
      slot in 65,536 put one article of the benchmark's 6,977 in a story at a similarity of
      .297, under the threshold, so the comparison stays exact;
    - its ``BANDS`` band keys, folded to 32 bits, in a sorted array beside the rows they come
      from (8 bytes a key), searched with ``searchsorted``; the keys of the latest stories
      wait in a small dict until there are ``_RECENT`` of them, then are inserted where they
      sort.  Two keys that fold alike only add a candidate, which the exact comparison then
      judges.  As a dict of Python ints, the keys took ~2.4 KB a story (bench/scale.py).

    70,000 stories took ~100 MB with 64-bit keys and doubling (119 MB at the peak of a
    merge); see docs/benchmarks.md (tenth round) for what they take now.  A candidate found
    through several keys is compared several times rather than deduplicated first: that
    costs less than ``np.unique``, and the answer is the same.
    """

    _RECENT = 1 << 14  # band keys held in the dict before a merge

    def __init__(self) -> None:
        self._signatures = np.empty((0, PERMUTATIONS), dtype=np.uint32)  # native byte order
        self._sketches = np.empty((0, PERMUTATIONS), dtype=np.uint8)  # low byte of each slot
        self._ids = np.empty(0, dtype=np.int64)  # row -> story id; 0: forgotten
        self._count = 0
        self._keys = np.empty(0, dtype=np.uint32)  # sorted
        self._rows = np.empty(0, dtype=np.int32)  # the row of each key
        self._recent: dict[int, list[int]] = {}  # key -> rows, for find
        self._recent_keys: list[int] = []  # the same keys and rows in order, for _merge
        self._recent_rows: list[int] = []
        self._asked: tuple[bytes, list[int]] | None = None  # find's last signature, its keys

    def add(self, story_id: int, signature: np.ndarray) -> None:
        row = self._count
        if row == len(self._ids):
            self._resize(max(64, row + row // 4))
        self._signatures[row] = signature  # stored in native order: compared without swapping
        self._sketches[row] = _sketch(signature)
        self._ids[row] = story_id
        self._count += 1
        keys = self._keys_of(signature)
        recent = self._recent
        for key in keys:
            found = recent.get(key)
            if found is None:
                recent[key] = [row]
            else:
                found.append(row)
        self._recent_keys += keys
        self._recent_rows += [row] * len(keys)
        if len(self._recent_keys) >= self._RECENT:
            self._merge()

    def add_many(self, story_ids: Sequence[int], signatures: np.ndarray) -> None:
        """``add`` of each story in turn (``signatures``: one a row), in a few array
        operations: a cycle's first lookup loads the last three days' stories, ~70,000 after
        a first pass over 10,000 feeds, and one ``add`` each cost a Python loop over its 32
        keys and a merge every 512 stories (docs/benchmarks.md, seventeenth session)."""
        count = len(story_ids)
        if not count:
            return
        self._merge()  # the recent keys first: rows stay in the order they were added
        start, end = self._count, self._count + count
        if end > len(self._ids):
            self._resize(max(64, end + end // 4))
        self._signatures[start:end] = signatures
        self._sketches[start:end] = _sketch(signatures)
        self._ids[start:end] = story_ids
        self._count = end
        keys = _folded_keys(signatures).ravel()
        rows = np.repeat(np.arange(start, end, dtype=np.int32), BANDS)
        order = np.argsort(keys, kind="stable")
        self._insert_sorted(keys[order], rows[order])

    def _resize(self, size: int) -> None:
        """Room for ``size`` rows (``add`` and ``add_many`` grow by a quarter)."""
        self._signatures = _grown(self._signatures, size)
        self._sketches = _grown(self._sketches, size)
        self._ids = _grown(self._ids, size)

    def _keys_of(self, signature: np.ndarray) -> list[int]:
        """``_folded_keys`` as ints; those of the signature ``find`` was last asked about are
        kept, as the store adds a story right after finding none for it."""
        asked = self._asked
        if asked is not None and asked[0] == signature.tobytes():
            return asked[1]
        return _folded_keys(signature).tolist()

    def _merge(self) -> None:
        if not self._recent_keys:
            return
        keys = np.array(self._recent_keys, dtype=np.uint32)
        rows = np.array(self._recent_rows, dtype=np.int32)
        order = np.argsort(keys, kind="stable")
        self._insert_sorted(keys[order], rows[order])
        self._recent.clear()
        self._recent_keys = []
        self._recent_rows = []

    def _insert_sorted(self, keys: np.ndarray, rows: np.ndarray) -> None:
        """Sorted ``keys`` and their rows, inserted where they sort: one new array each, not
        the ~4 copies of the key array that sorting the concatenation held (~100 MB at 60,000
        stories)."""
        at = np.searchsorted(self._keys, keys, side="right")
        self._keys = np.insert(self._keys, at, keys)
        self._rows = np.insert(self._rows, at, rows)

    def find(self, signature: np.ndarray) -> int | None:
        """The id of the story ``signature`` is most similar to, among those it belongs to
        (``same_story``), the newest of the most similar; None when there is none.

        Not simply the newest: an estimate near the threshold passes now and then for a story
        that only shares boilerplate (the benchmark's template sentences do it often), and the
        store confirms one candidate on its words (``StoryIndex.find``): it must be the one a
        copy copies, far more similar (~0.8 and up) than a newer story its boilerplate barely
        reaches (~0.3).
        """
        if not self._count:
            return None
        keys = _folded_keys(signature)
        listed = keys.tolist()
        self._asked = (signature.tobytes(), listed)
        found: list[np.ndarray] = []
        if len(self._keys):
            starts = np.searchsorted(self._keys, keys, "left").tolist()
            ends = np.searchsorted(self._keys, keys, "right").tolist()
            found += [self._rows[a:b] for a, b in zip(starts, ends, strict=True) if b > a]
        recent = self._recent
        near = [row for key in listed if key in recent for row in recent[key]]
        if near:
            found.append(np.array(near, dtype=np.int32))
        if not found:
            return None
        rows = np.concatenate(found) if len(found) > 1 else found[0]
        sketches = self._sketches
        query = _sketch(signature)
        close = [
            part[_sketch_equal(np.take(sketches, part, axis=0), query) >= _LEAST_EQUAL]
            for part in (rows[at : at + _CHUNK] for at in range(0, len(rows), _CHUNK))
        ]
        rows = np.concatenate(close) if len(close) > 1 else close[0]
        if not len(rows):
            return None
        equal = np.count_nonzero(self._signatures[rows] == signature.astype(np.uint32), axis=1)
        passing = equal >= _LEAST_EQUAL  # as same_story decides
        ids = self._ids[rows[passing]].tolist()  # 0: a forgotten story, its row left in place
        best = max(((e, i) for e, i in zip(equal[passing].tolist(), ids, strict=True) if i),
                   default=(0, None))  # fmt: skip
        return best[1]

    def forget(self, story_id: int) -> None:
        """The story is gone (its creation was rolled back): never found again."""
        ids = self._ids[: self._count]
        ids[ids == story_id] = 0


def _grown(array: np.ndarray, rows: int) -> np.ndarray:
    """``array`` with room for ``rows`` rows: its own first, the others not yet written.

    Not ``np.resize``: to grow an array it repeats it (a new array twice the old one) and
    returns a view of the part asked for, which keeps the whole repetition alive.  A quarter
    more rows then held twice the old ones: 42 MB for the ~69,000 stories of a first pass
    over 10,000 feeds, where ~26 MB is room for 80,000 (tracemalloc, docs/benchmarks.md).
    """
    grown = np.empty((rows, *array.shape[1:]), dtype=array.dtype)
    grown[: len(array)] = array
    return grown


def _folded_keys(signature: np.ndarray) -> np.ndarray:
    """``band_keys`` folded to 32 bits (its two halves XORed), as the index keeps them; for
    a matrix of signatures, a row for each."""
    keys = band_keys(signature)
    return (keys ^ (keys >> np.uint64(32))).astype(np.uint32)


# Candidates compared per pass: 128 KB arrays, under the daemon's mmap threshold
# (malloc_tuning.py), which gave every larger temporary its own mmap, page faults and munmap:
# finding was 1.8 times slower with the daemon's malloc settings than without (in one pass).
_CHUNK = 2048
_ONES = np.uint64(0x0101010101010101)
# The fewest equal slots of two signatures that are one story (``same_story``).
_LEAST_EQUAL = min(e for e in range(PERMUTATIONS + 1) if e / PERMUTATIONS >= THRESHOLD)


def _sketch_equal(sketches: np.ndarray, query: np.ndarray) -> np.ndarray:
    """For each row of ``sketches`` (64 bytes a row), how many of its bytes equal ``query``'s
    at the same place.

    Compared as bytes, the answers are bytes of 0 or 1, so a row's 8 bytes read as one uint64
    have as many bits set as they hold equal bytes: those are counted per word in C, and a
    row's 8 counts (at most 8 each) summed by one multiplication.  Four passes over the
    candidates instead of the eight of a word-at-a-time count of differing bytes (the XOR,
    then masks and an addition to set each differing byte's high bit): a lookup among 60,000
    stories 5 % shorter (docs/benchmarks.md, twentieth session).  Comparing byte arrays and
    counting per row with ``count_nonzero`` took 2.2 times as long (thirteenth round).
    """
    equal = sketches == query
    counts = np.bitwise_count(equal.view(np.uint64))  # uint8, one per word: a row's 8 are one
    return (counts.view(np.uint64).ravel() * _ONES) >> np.uint64(56)


def _sketch(signature: np.ndarray) -> np.ndarray:
    """The low byte of each slot of ``signature`` (or of each row of a matrix of them): equal
    wherever the slots are equal."""
    return signature.astype(np.uint8)  # keeps the low byte: the values, not the bytes, count


_DIGESTS: dict[str, bytes] = {}
_DIGESTS_KEPT = 1 << 15  # ~4.4 MB when full (~135 bytes each)


def _digests(features: Iterable[str]) -> bytes:
    """Each feature's 32-bit hash (blake2b, big-endian), end to end: fixed across processes,
    unlike ``hash()``.

    Words recur across articles, so hashes are kept, and all forgotten at once when
    ``_DIGESTS_KEPT`` are held (the recurring ones come back first).  A plain dict, not
    ``lru_cache``: on the benchmark's articles (~1 word in 4 not seen lately) keeping the LRU
    order cost as much as hashing every word again, and a dict's get and set are atomic for
    the worker threads.
    """
    kept = _DIGESTS
    features = tuple(features)
    digests = list(map(kept.get, features))  # in C: most features are kept
    if None in digests:
        for at, digest in enumerate(digests):
            if digest is None:
                if len(kept) >= _DIGESTS_KEPT:
                    kept.clear()
                feature = features[at]
                digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=4).digest()
                kept[feature] = digests[at] = digest
    return b"".join(digests)  # type: ignore[arg-type]


_TILED = 256  # features covered by the tiled coefficients (a title and the lead: ~100)


@lru_cache(maxsize=1)
def _tiled_coefficients() -> tuple[np.ndarray, np.ndarray]:
    """``_coefficients`` repeated for ``_TILED`` features, in the order of ``_min_hashes``."""
    a, b = _coefficients()
    return np.tile(a, _TILED), np.tile(b, _TILED)  # 128 KB each


@lru_cache(maxsize=1)
def _coefficients() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20240305)  # fixed: fingerprints are stored and compared later
    a = rng.integers(1, _PRIME, size=PERMUTATIONS, dtype=np.uint64)
    b = rng.integers(0, _PRIME, size=PERMUTATIONS, dtype=np.uint64)
    return a, b


@lru_cache(maxsize=1024)  # ~1.6 KB each (the 1 KB fingerprint is the key): a daemon runs for months
def _signature(fingerprint: str) -> np.ndarray | None:
    version, _, body = fingerprint.partition(":")
    if version != _VERSION or len(body) != PERMUTATIONS * 8:
        return None
    try:
        return np.frombuffer(bytes.fromhex(body), dtype=">u4")
    except ValueError:
        return None
