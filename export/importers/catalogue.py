"""The catalogue ``restyle pull`` fetches from: published style models with pinned checksums.

The onnx/models ``fast_neural_style`` files (pytorch/examples' TransformerNet, BSD-3-Clause).
Each sha256 is the ``oid sha256:`` of the repository's Git LFS pointer file for that model, or,
for ``mosaic-9`` and ``candy-9`` (whose pointer files were not reachable from here), the digest
that several independent projects pin for the same URL and size (6,728,029 bytes; their pins for
``rain-princess-9``, ``pointilism-9`` and ``udnie-9`` equal the LFS oids below, which vouches for
the source). ``mosaic-8``, ``candy-8`` and ``udnie-8`` (the same weights at opset 8) are left out:
no digest for them could be verified, and ``restyle pull`` never keeps a file it cannot check; asked
for, it names the opset-9 file and the by-hand route (download, ``restyle import``). An entry
with ``sha256=None`` would be refused the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from restyle.errors import ConfigError

__all__ = ["CATALOGUE", "CatalogueEntry", "entry"]

_ZOO = ("https://github.com/onnx/models/raw/main/validated/vision/style_transfer/"
        "fast_neural_style/model/")
_SOURCE = "onnx/models fast_neural_style (pytorch/examples fast_neural_style, COCO 2014)"
_LICENSE = "BSD-3-Clause"


@dataclass(frozen=True)
class CatalogueEntry:
    """One published model."""

    name: str
    file: str
    url: str
    sha256: str | None
    size: int
    opset: int
    license: str
    source: str
    description: str


def _zoo(style: str, opset: int, sha256: str | None, title: str) -> CatalogueEntry:
    file = f"{style}-{opset}.onnx"
    return CatalogueEntry(
        name=f"{style}-{opset}", file=file, url=_ZOO + file, sha256=sha256,
        size=6728029 if opset == 9 else 6726529, opset=opset, license=_LICENSE, source=_SOURCE,
        description=f"{title} (Johnson et al. fast style transfer, onnx/models opset {opset})")


CATALOGUE: dict[str, CatalogueEntry] = {e.name: e for e in (
    _zoo("mosaic", 9, "fa646dedade881243f8d5a2ceb7de2b93675b21fc24f7482894ac4851a9a0a47",
         "Mosaic"),
    _zoo("candy", 9, "9d11a3529d1e547da6ae07201d93484dbab2ec0a3614535752c8f40f0fe2968a",
         "Candy"),
    _zoo("rain-princess", 8,
         "bf13b623576021a77dab6aa54c366d0900e8f55909be27cf4a40248d6ff6e097", "Rain Princess"),
    _zoo("rain-princess", 9,
         "4162912e6f75fedef6f810ae989b9e10d3d5d43308dab34b027c850cf255e152", "Rain Princess"),
    _zoo("udnie", 9, "8656b6ce7dec8f22ee13c2d557d6b67bd6f550dde88d0f2e7c9972aeb765cc0d",
         "Udnie"),
    _zoo("pointilism", 8,
         "09fb31931c1826daf42552e451a908d068486a3ca946324a3ece758d51f46cad", "Pointilism"),
    _zoo("pointilism", 9,
         "5ee2b8d4d6bc60a777f54e0fe96a1b717360a004b79d56c67390d4a975b14d98", "Pointilism"),
)}


#: Published files left out of the catalogue because no digest for them could be verified, and
#: the catalogue entry holding the same weights.
UNVERIFIED = {"mosaic-8": "mosaic-9", "candy-8": "candy-9", "udnie-8": "udnie-9"}


def entry(name: str) -> CatalogueEntry:
    """The catalogue entry called ``name``.

    Raises:
        ConfigError: No entry has that name; the message lists them (and, for a published file
            left out, names the entry with the same weights and the by-hand route).
    """
    if name in UNVERIFIED:
        same = CATALOGUE[UNVERIFIED[name]]
        raise ConfigError(f"{name} is not in the catalogue: no checksum for it could be verified, "
                          f"and restyle pull keeps only files it can check. `restyle pull "
                          f"{same.name}` fetches the same weights (opset {same.opset}); or "
                          f"download {_ZOO}{name}.onnx by hand and run `restyle import "
                          f"{name}.onnx --onnx {name}-restyle.onnx`")
    try:
        return CATALOGUE[name]
    except KeyError:
        raise ConfigError(f"no model {name!r} in the catalogue: choose one of "
                          f"{', '.join(CATALOGUE)} (`restyle pull --list`)") from None
