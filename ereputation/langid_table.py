"""py3langid's model in a sixth of its memory: its feature trie as a dict, not a 37 MB table.

py3langid counts byte n-gram features by walking a DFA (Aho-Corasick) whose transition table
(``tk_nextmove``, 9.7 M entries) is most of the +52 MB it costs the daemon, which would
otherwise stay under its 150 MB budget.  A state of that automaton stands for one string (a
prefix of a feature, at most 6 bytes); the state reached after a byte is the longest suffix
of the text so far that is such a string.  So a dict from those 104,583 strings to the
feature each one emits, and a walk that tries the suffixes longest first, count exactly the
same features: ~11 MB instead of ~50, at ~80 µs instead of ~35 µs for a 100-byte text, paid
only by the texts the stop-word vote leaves open.

The strings are derived once from the installed model by ``bench/langid_table.py`` and
shipped as ``data/langid/trie.bin.gz`` (~0.5 MB), with the SHA-256 of the model file they
come from (py3langid is BSD-licensed; so is this derived table).  When the installed model
is another one, ``load`` uses py3langid's own walk over its transition table instead.
The scores (naive Bayes weights and priors) of our languages are shipped too, as
``data/langid/scores.bin.gz`` (~0.6 MB, the same model's columns, bit for bit): reading them
from the installed model means decompressing its whole 28 MB score table first, ~0.5 s of
CPU at every start of a feed reader.  Without a match, they are read from the model.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
import zipfile
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from itertools import accumulate, pairwise
from pathlib import Path
from typing import Any

TABLE = "data/langid/trie.bin.gz"
SCORES = "data/langid/scores.bin.gz"
MAX_DEPTH = 6  # the longest string of a state, checked when the table is read


def model_path() -> Path:
    from py3langid.langid import MODEL_DIR, MODEL_FILE

    return Path(MODEL_DIR) / MODEL_FILE


def model_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
    order = sorted(names)
    header = json.dumps({"model_sha256": digest, "states": len(order)}).encode() + b"\n"
    out.write(header)
    out.write(bytes(len(names[state]) for state in order))
    out.write(array("i", (outputs[state] for state in order)).tobytes())
    out.write(b"".join(names[state] for state in order))
    return len(order)


def read_table(digest: str) -> dict[bytes, int] | None:
    """The shipped string → feature table, or None when it was made from another model."""
    raw = resources.files("ereputation").joinpath(TABLE).read_bytes()
    data = gzip.decompress(raw)
    end = data.index(b"\n")
    header = json.loads(data[:end])
    if header.get("model_sha256") != digest:
        return None
    count = int(header["states"])
    lengths = data[end + 1 : end + 1 + count]
    features = array("i")
    features.frombytes(data[end + 1 + count : end + 1 + 5 * count])
    blob = data[end + 1 + 5 * count :]
    if max(lengths) > MAX_DEPTH or sum(lengths) != len(blob):
        raise ValueError(f"{TABLE} is damaged")
    keys = [blob[a:b] for a, b in pairwise(accumulate(lengths, initial=0))]
    return dict(zip(keys, features, strict=True))


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


def read_scores(digest: str, languages: Sequence[str]) -> tuple[list[str], Any, Any] | None:
    """(labels, priors, scores) as ``load`` reads them from the model, or None when the
    shipped file was made from another model or for other languages."""
    import numpy as np

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
    priors = np.frombuffer(data[end + 1 : start], dtype="<f4")
    scores = np.frombuffer(data[start:], dtype="<f2")
    if scores.size != rows * width:
        raise ValueError(f"{SCORES} is damaged")
    return labels, priors, scores.reshape(rows, width)


def model_columns(languages: Sequence[str]) -> tuple[list[str], Any, Any]:
    """(labels, priors, scores) of ``languages`` read from the installed model itself."""
    with _model_npz() as data:
        return _columns(data, languages)


def _columns(data: Any, languages: Sequence[str]) -> tuple[list[str], Any, Any]:
    """(labels, priors, scores) of ``languages`` in the open model ``data``, in its order."""
    classes = data["classes"].tolist()
    keep = [i for i, name in enumerate(classes) if name in languages]
    return [classes[i] for i in keep], data["pc"][keep], read_columns(data.zip, "ptc.npy", keep)


def feature_counts(table: dict[bytes, int], text: bytes) -> Counter[int] | None:
    """What py3langid's ``visit_counts`` returns for ``text``, without its DFA."""
    get = table.get
    found: list[int] = []
    depth = 0
    feature = -1
    for end in range(1, len(text) + 1):
        size = depth + 1 if depth < MAX_DEPTH else MAX_DEPTH
        while size:
            feature = get(text[end - size : end], -2)
            if feature != -2:
                break
            size -= 1
        depth = size
        if size and feature >= 0:
            found.append(feature)
    return Counter(found) if found else None


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
    """A py3langid ``LanguageIdentifier`` for ``languages`` only, in as little memory as we can.

    ``LanguageIdentifier.from_model_file`` + ``set_languages`` keeps the scores of all 142
    classes (28 MB) to allow a reset, and holds every table twice while converting: +103 MB
    at the peak, +74 MB after.  Here only the score columns of ``languages`` are read, and
    the features are counted with the shipped table (+~28 MB in all); when the installed
    model is not the one the table was made from, with py3langid's transition table read in
    chunks (+52 MB).  Same answers either way; a model file laid out differently (another
    py3langid) falls back to the library's own loading.
    """
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    digest = model_digest(model_path())
    found = read_table(digest)
    shipped = read_scores(digest, languages) if found is not None else None
    if found is not None and shipped is not None:
        return _table_identifier(found, *shipped)
    try:
        with _model_npz() as data:
            labels, priors, scores = _columns(data, languages)
            if found is None:
                outputs = array("i", data["out_feat"].astype("<i4").tobytes())
                rows = read_array(data.zip, "nextmove_row.npy")
                moves = read_array(data.zip, "nextmove.npy")
    except (KeyError, ValueError, TypeError):  # not the layout of py3langid 0.4
        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        identifier.set_languages(list(languages))
        return identifier
    if found is None:
        identifier = LanguageIdentifier(
            scores, priors, labels, moves, outputs, norm_probs=True, tk_row=rows
        )
        # Its walk only indexes these two: as arrays, 0.8 MB instead of ~14 MB of int objects.
        identifier._rowbase = array("I", (row << 8 for row in rows))
        return identifier
    return _table_identifier(found, labels, priors, scores)


def _table_identifier(table: dict[bytes, int], labels: list[str], priors: Any, scores: Any) -> Any:
    """A py3langid identifier that counts features with ``table`` (no transition table)."""
    import numpy as np
    from py3langid.langid import LanguageIdentifier

    class _TableIdentifier(LanguageIdentifier):  # type: ignore[misc]
        def _raw_score(self, text: bytes) -> Any:
            visits = feature_counts(table, text)
            if visits:
                return self._sparse_score(visits, self.nb_ptc)
            return np.full(len(self.nb_classes), 0.0, dtype=np.float32)  # norm_probs: abstain

    empty = array("I")
    return _TableIdentifier(
        scores, priors, labels, empty, array("i"), norm_probs=True, tk_row=empty
    )
