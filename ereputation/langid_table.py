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
is another one, ``load`` returns None and the caller falls back to py3langid's own walk.
The scores (naive Bayes weights of our languages) are read from the installed model itself.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from array import array
from collections import Counter
from collections.abc import Sequence
from importlib import resources
from itertools import accumulate, pairwise
from pathlib import Path
from typing import Any

TABLE = "data/langid/trie.bin.gz"
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


def read_columns(archive: Any, member: str, keep: Sequence[int]) -> Any:
    """The ``keep`` columns of a 2-D .npy member, read a few thousand rows at a time: the
    full score table (97 languages, 19 MB) is never in memory at once."""
    import numpy as np

    with archive.open(member) as raw:
        version = np.lib.format.read_magic(raw)
        shape, fortran, dtype = (
            np.lib.format.read_array_header_1_0(raw)
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0(raw)
        )
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


def load(languages: Sequence[str]) -> Any | None:
    """A py3langid ``LanguageIdentifier`` for ``languages`` that counts features with the
    shipped table, or None when the installed model is not the one it was made from."""
    import lzma
    import shutil
    import tempfile
    import zipfile

    import numpy as np
    from py3langid.langid import LanguageIdentifier

    path = model_path()
    found = read_table(model_digest(path))
    if found is None:
        return None
    table: dict[bytes, int] = found

    class _TableIdentifier(LanguageIdentifier):  # type: ignore[misc]
        def _raw_score(self, text: bytes) -> Any:
            visits = feature_counts(table, text)
            if visits:
                return self._sparse_score(visits, self.nb_ptc)
            return np.full(len(self.nb_classes), 0.0, dtype=np.float32)  # norm_probs: abstain

    with tempfile.TemporaryFile(suffix=".npz") as npz:
        with lzma.open(path) as packed:
            shutil.copyfileobj(packed, npz, length=1 << 20)
        npz.seek(0)
        with zipfile.ZipFile(npz) as archive, np.load(npz, allow_pickle=False) as data:
            classes = data["classes"].tolist()
            keep = [i for i, name in enumerate(classes) if name in languages]
            priors = data["pc"][keep]
            scores = read_columns(archive, "ptc.npy", keep)
    empty = array("I")
    return _TableIdentifier(
        scores, priors, [classes[i] for i in keep], empty, array("i"),
        norm_probs=True, tk_row=empty,
    )  # fmt: skip
