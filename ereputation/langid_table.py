"""py3langid's model for our languages, read without its 37 MB table and without NumPy.

py3langid counts byte n-gram features by walking a DFA (Aho-Corasick) whose transition table
(``tk_nextmove``, 9.7 M entries) is most of the +52 MB it costs, then scores them with NumPy.
A state of that automaton stands for one string (a prefix of a feature, at most 6 bytes); the
state reached after a byte is the longest suffix of the text so far that is such a string.
So the 104,583 strings, each with the feature it emits, and a walk that tries the suffixes
longest first count exactly the same features.  They are kept as two flat arrays (each
string as one sorted integer, found by bisection): 1.3 MB, where a dict of them took 21 MB.

The scores are naive Bayes: a prior per language plus, for each feature seen, the log of
its count plus one times that feature's row of weights.  With 13 languages that is a few
hundred multiplications per text, done here in plain Python (``NaiveBayes``), so the feed
reader never imports NumPy (~14 MB): py3langid only loads for the texts that the stop-word
vote leaves open (language.py), and its answers are the same (a test compares them).

The strings are derived once from the installed model by ``bench/langid_table.py`` and
shipped as ``data/langid/trie.bin.gz``, with the SHA-256 of the model file they come from
(py3langid is BSD-licensed; so is this derived table).  The scores of our languages are
shipped too, as ``data/langid/scores.bin.gz`` (~0.6 MB, the same model's columns, bit for
bit): reading them from the installed model means decompressing its whole 28 MB score table
first, ~0.5 s of CPU at every start of a feed reader.  When the installed model is another
one, ``load`` falls back to py3langid's own walk over its transition table, read in chunks.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import json
import math
import struct
import sys
import unicodedata
import zipfile
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from operator import itemgetter, mul
from pathlib import Path
from typing import Any

TABLE = "data/langid/trie.bin.gz"
SCORES = "data/langid/scores.bin.gz"
MAX_DEPTH = 6  # the longest string of a state, checked when the table is read
_LAYOUT = "sorted keys"  # trie.bin.gz's layout: sorted uint64 keys, then int32 features


def model_path() -> Path:
    """py3langid's model file (its ``MODEL_DIR / MODEL_FILE``), found without importing
    py3langid, which imports NumPy."""
    spec = importlib.util.find_spec("py3langid")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("py3langid is not installed: pip install py3langid")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "model.npz.xz"


def model_digest(path: Path) -> str:
    with path.open("rb") as model:
        return hashlib.file_digest(model, "sha256").hexdigest()


def string_key(string: bytes) -> int:
    """One integer per state string: its bytes, then its length in the low 3 bits."""
    return int.from_bytes(string, "big") << 3 | len(string)


@dataclass(frozen=True, slots=True)
class FeatureTrie:
    """The DFA's state strings as sorted ``string_key``s, and the feature each emits (-1:
    none).  A string that is not a state is absent."""

    keys: array[int]
    features: array[int]


def write_table(identifier: Any, digest: str, out: io.BufferedIOBase) -> int:
    """Write the strings of ``identifier``'s DFA states and their features; return the count.

    Breadth first from the start state, so each state is named by its shortest string,
    which in an Aho-Corasick automaton is the string it stands for.
    """
    moves, rowbase, outputs = identifier.tk_nextmove, identifier._rowbase, identifier.tk_output
    names: dict[int, bytes] = {0: b""}
    queue = [0]
    for state in queue:  # grows while read: a breadth-first walk
        base, prefix = rowbase[state], names[state]
        for byte in range(256):
            following = moves[base + byte]
            if following not in names:
                names[following] = prefix + bytes((byte,))
                queue.append(following)
    if len(names) != len(outputs):
        raise ValueError(f"{len(outputs) - len(names)} states cannot be reached")
    if max(map(len, names.values())) > MAX_DEPTH:
        raise ValueError(f"a state string is longer than {MAX_DEPTH} bytes")
    rows = sorted((string_key(name), int(outputs[state])) for state, name in names.items())
    header = {"model_sha256": digest, "states": len(rows), "layout": _LAYOUT}
    out.write(json.dumps(header).encode() + b"\n")
    out.write(struct.pack(f"<{len(rows)}Q", *map(itemgetter(0), rows)))
    out.write(struct.pack(f"<{len(rows)}i", *map(itemgetter(1), rows)))
    return len(rows)


def read_table(digest: str) -> FeatureTrie | None:
    """The shipped table, or None when it was made from another model."""
    raw = resources.files("ereputation").joinpath(TABLE).read_bytes()
    data = gzip.decompress(raw)
    end = data.index(b"\n")
    header = json.loads(data[:end])
    if header.get("model_sha256") != digest:
        return None
    count = int(header["states"])
    keys, features = array("Q"), array("i")
    if header.get("layout") != _LAYOUT or keys.itemsize != 8 or features.itemsize != 4:
        return None
    keys.frombytes(data[end + 1 : end + 1 + 8 * count])
    features.frombytes(data[end + 1 + 8 * count :])
    if sys.byteorder == "big":
        keys.byteswap()
        features.byteswap()
    ordered = all(map(int.__lt__, keys, keys[1:]))  # bisection needs it
    too_long = any(key & 7 > MAX_DEPTH for key in keys)
    if len(keys) != count or len(features) != count or not ordered or too_long:
        raise ValueError(f"{TABLE} is damaged")
    return FeatureTrie(keys, features)


def write_scores(
    digest: str, languages: Sequence[str], labels: Sequence[str], priors: Any, scores: Any,
    out: io.BufferedIOBase,
) -> None:  # fmt: skip
    """Write our languages' priors (float32) and score columns (rows × labels, float16)."""
    header = {"model_sha256": digest, "languages": list(languages), "labels": list(labels),
              "rows": int(scores.shape[0])}  # fmt: skip
    out.write(json.dumps(header).encode() + b"\n")
    out.write(priors.astype("<f4").tobytes())
    out.write(scores.astype("<f2").tobytes(order="C"))


@dataclass(frozen=True, slots=True)
class Scores:
    """Our languages' naive Bayes priors and, per feature, one row of weights (little-endian
    float16, one per label): the model's own numbers, as scores.bin.gz ships them."""

    labels: list[str]
    priors: list[float]
    weights: bytes

    @classmethod
    def from_arrays(cls, labels: Sequence[str], priors: Any, scores: Any) -> Scores:
        """From the model's arrays (``model_columns``): float32 priors, float16 scores."""
        if priors.dtype.str[1:] != "f4" or scores.dtype.str[1:] != "f2":
            raise ValueError(f"unexpected score types {priors.dtype}, {scores.dtype}")
        return cls(list(labels), priors.tolist(), scores.astype("<f2").tobytes(order="C"))


def read_scores(digest: str, languages: Sequence[str]) -> Scores | None:
    """Our languages' scores as ``model_columns`` reads them from the model, or None when the
    shipped file was made from another model or for other languages."""
    try:
        raw = resources.files("ereputation").joinpath(SCORES).read_bytes()
    except FileNotFoundError:
        return None
    data = gzip.decompress(raw)
    end = data.index(b"\n")
    header = json.loads(data[:end])
    if header.get("model_sha256") != digest or header.get("languages") != list(languages):
        return None
    labels, rows = list(header["labels"]), int(header["rows"])
    width = len(labels)
    start = end + 1 + 4 * width
    if len(data) - start != 2 * rows * width:
        raise ValueError(f"{SCORES} is damaged")
    priors = list(struct.unpack(f"<{width}f", data[end + 1 : start]))
    return Scores(labels, priors, data[start:])


def model_columns(languages: Sequence[str]) -> tuple[list[str], Any, Any]:
    """(labels, priors, scores) of ``languages`` read from the installed model itself."""
    with _model_npz() as data:
        return _columns(data, languages)


def _columns(data: Any, languages: Sequence[str]) -> tuple[list[str], Any, Any]:
    """(labels, priors, scores) of ``languages`` in the open model ``data``, in its order."""
    classes = data["classes"].tolist()
    keep = [i for i, name in enumerate(classes) if name in languages]
    return [classes[i] for i in keep], data["pc"][keep], read_columns(data.zip, "ptc.npy", keep)


def feature_counts(trie: FeatureTrie, text: bytes) -> Counter[int] | None:
    """What py3langid's ``visit_counts`` returns for ``text``, without its DFA."""
    keys, features = trie.keys, trie.features
    count = len(keys)
    found: list[int] = []
    depth = at = 0
    for end in range(1, len(text) + 1):
        size = depth + 1 if depth < MAX_DEPTH else MAX_DEPTH
        while size:  # the longest suffix that is a state string
            key = string_key(text[end - size : end])
            at = bisect_left(keys, key)
            if at < count and keys[at] == key:
                break
            size -= 1
        depth = size
        if size and (feature := features[at]) >= 0:
            found.append(feature)
    return Counter(found) if found else None


class NaiveBayes:
    """py3langid's ``LanguageIdentifier(norm_probs=True)`` restricted to our languages, in
    plain Python: the same features, weights, temperature and softmax (in double precision
    where py3langid computes in single: probabilities agree within ~1e-5)."""

    def __init__(self, trie: FeatureTrie, scores: Scores) -> None:
        if len(set(scores.labels)) != len(scores.labels):
            raise ValueError(f"a language appears twice in {scores.labels}")
        self.trie, self.scores = trie, scores
        self._row = struct.Struct(f"<{len(scores.labels)}e")

    def rank(self, text: str) -> list[tuple[str, float]]:
        """Every language with its probability, likeliest first (ties: the model's order)."""
        data = _encode(text)
        visits = feature_counts(self.trie, data)
        if visits:
            unpack, weights, size = self._row.unpack_from, self.scores.weights, self._row.size
            counts = [math.log1p(count) for count in visits.values()]
            rows = [unpack(weights, feature * size) for feature in visits]
            columns = zip(*rows, strict=True)  # one per language
            raw = [
                prior + sum(map(mul, counts, column))
                for prior, column in zip(self.scores.priors, columns, strict=True)
            ]
        else:  # no feature: every language alike, as py3langid abstains
            raw = [0.0] * len(self.scores.labels)
        # py3langid's temperature: the square root of the length keeps long texts calibrated.
        scaled = [value / math.sqrt(len(data) or 1) for value in raw]
        top = max(scaled)
        exps = [math.exp(value - top) for value in scaled]
        total = sum(exps)
        ranked = zip(self.scores.labels, [value / total for value in exps], strict=True)
        return sorted(ranked, key=itemgetter(1), reverse=True)

    def classify(self, text: str) -> tuple[str, float]:
        return self.rank(text)[0]


def _encode(text: str) -> bytes:
    """The bytes py3langid reads for ``text`` (``LanguageIdentifier._encode``)."""
    if text.isupper():
        text = text.lower()
    return unicodedata.normalize("NFC", text).encode("utf8", errors="surrogatepass")


@contextmanager
def _model_npz() -> Iterator[Any]:
    """The installed model's arrays (an .npz inside an .xz), decompressed to a temporary
    file 1 MB at a time so that each array can be read alone, or in pieces."""
    import lzma
    import shutil
    import tempfile

    import numpy as np

    with tempfile.TemporaryFile(suffix=".npz") as npz:
        with lzma.open(model_path()) as packed:
            shutil.copyfileobj(packed, npz, length=1 << 20)
        npz.seek(0)
        with np.load(npz, allow_pickle=False) as data:
            yield data


def _npy_header(raw: Any) -> tuple[tuple[int, ...], bool, Any]:
    """(shape, Fortran order, dtype) of the .npy stream ``raw``, left at its first byte of data."""
    import numpy as np

    if np.lib.format.read_magic(raw) == (1, 0):
        return np.lib.format.read_array_header_1_0(raw)  # type: ignore[no-any-return]
    return np.lib.format.read_array_header_2_0(raw)  # type: ignore[no-any-return]


def read_columns(archive: zipfile.ZipFile, member: str, keep: Sequence[int]) -> Any:
    """The ``keep`` columns of a 2-D .npy member, read a few thousand rows at a time: the
    full score table (97 languages, 19 MB) is never in memory at once."""
    import numpy as np

    with archive.open(member) as raw:
        shape, fortran, dtype = _npy_header(raw)
        if fortran or len(shape) != 2:
            raise ValueError(f"unexpected {member}: {shape}")
        rows, width = shape
        result = np.empty((rows, len(keep)), dtype=dtype)
        step = 4096
        for start in range(0, rows, step):
            count = min(step, rows - start)
            chunk = raw.read(count * width * dtype.itemsize)
            block = np.frombuffer(chunk, dtype=dtype).reshape(count, width)
            result[start : start + count] = block[:, keep]
    return result


def read_array(archive: zipfile.ZipFile, member: str) -> array[int]:
    """An unsigned-integer .npy member of ``archive`` as an ``array``, read 1 MB at a time.

    py3langid walks its transition table with ``array`` (fast item access); reading into
    one directly avoids holding a NumPy copy of the 20 MB table beside it.
    """
    import numpy as np

    typecodes = {np.dtype("<u2"): "H", np.dtype("<u4"): "I"}
    with archive.open(member) as raw:
        shape, _, dtype = _npy_header(raw)
        typecode = typecodes.get(dtype)
        if typecode is None or len(shape) != 1 or sys.byteorder != "little":
            raise ValueError(f"unexpected {member}: {dtype} {shape}")
        table = array(typecode)
        if table.itemsize != dtype.itemsize:
            raise ValueError(f"unexpected {member}: {dtype} {shape}")
        while chunk := raw.read(1 << 20):
            table.frombytes(chunk)
    if len(table) != shape[0]:
        raise ValueError(f"truncated {member}")
    return table


def load(languages: Sequence[str]) -> Any:
    """A language identifier for ``languages`` only: ``rank`` and ``classify`` as py3langid's
    ``LanguageIdentifier(norm_probs=True)`` restricted to them, in as little memory as we can.

    ``LanguageIdentifier.from_model_file`` + ``set_languages`` keeps the scores of all 142
    classes (28 MB) to allow a reset, and holds every table twice while converting: +103 MB
    at the peak, +74 MB after.  With the shipped table and scores, ``NaiveBayes`` costs ~4 MB
    and no NumPy.  When the installed model is not the one the table was made from, only the
    score columns of ``languages`` are read from it, and its transition table in chunks
    (+52 MB).  Same answers either way; a model file laid out differently (another
    py3langid) falls back to the library's own loading.
    """
    try:
        digest = model_digest(model_path())
    except FileNotFoundError:
        digest = ""  # another layout of py3langid: its own loading below
    trie = read_table(digest)
    if trie is not None:
        scores = read_scores(digest, languages)
        return NaiveBayes(trie, scores or Scores.from_arrays(*model_columns(languages)))
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    try:
        with _model_npz() as data:
            labels, priors, columns = _columns(data, languages)
            outputs = array("i", data["out_feat"].astype("<i4").tobytes())
            rows = read_array(data.zip, "nextmove_row.npy")
            moves = read_array(data.zip, "nextmove.npy")
    except (FileNotFoundError, KeyError, ValueError, TypeError):  # not py3langid 0.4's layout
        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        identifier.set_languages(list(languages))
        return identifier
    identifier = LanguageIdentifier(
        columns, priors, labels, moves, outputs, norm_probs=True, tk_row=rows
    )
    # Its walk only indexes these two: as arrays, 0.8 MB instead of ~14 MB of int objects.
    identifier._rowbase = array("I", (row << 8 for row in rows))
    return identifier
