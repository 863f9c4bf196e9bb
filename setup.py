"""Install poselift.

The repository keeps the folder layout the project was specified with
(``lifting/ detectors/ datasets/ experiments/``) but installs everything under
the single import namespace ``poselift`` so that ``datasets`` and
``detectors`` never shadow (or get shadowed by) the PyPI packages of the same
name:

    lifting/      -> poselift
    datasets/     -> poselift.datasets
    detectors/    -> poselift.detectors
    experiments/  -> poselift.experiments
"""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def _version() -> str:
    for line in (HERE / "lifting" / "_version.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=")[1].strip().strip("\"'")
    raise RuntimeError("no __version__ in lifting/_version.py")


PACKAGE_DIR = {
    "poselift": "lifting",
    "poselift.datasets": "datasets",
    "poselift.detectors": "detectors",
    "poselift.experiments": "experiments",
}


def _packages() -> list[str]:
    """Every package (folder with ``__init__.py``) under each mapped folder, named in ``poselift``.

    Sub-packages need no entry in ``PACKAGE_DIR``: setuptools finds ``poselift.commands`` in
    ``lifting/commands``. Folders without ``__init__.py`` (``experiments/bench``: benchmarks run from a
    checkout, ``experiments/configs``: data) are not packages.
    """
    out = []
    for name, folder in PACKAGE_DIR.items():
        out.append(name)
        out += [f"{name}.{sub}" for sub in find_packages(str(HERE / folder))]
    return sorted(set(out))


PACKAGE_DATA = {
    # experiment configs (``poselift train experiments/configs/...`` in a checkout; read next to the code by
    # experiments/scripts/synthetic_humaneva.py), the shell driver of the reduced Human3.6M runs
    "poselift.experiments": ["configs/*.yaml"],
    "poselift.experiments.scripts": ["*.sh"],
}

# ONNX Runtime: exactly one of the two distributions may be installed (both
# provide the module ``onnxruntime`` and overwrite each other's files).
# onnxruntime-gpu ships wheels for Linux x86_64 and Windows AMD64 only and
# falls back to the CPU provider when no CUDA device exists.
ORT = [
    "onnxruntime-gpu>=1.17; (platform_system == 'Linux' and platform_machine == 'x86_64') "
    "or (platform_system == 'Windows' and platform_machine == 'AMD64')",
    "onnxruntime>=1.17; (platform_system != 'Linux' and platform_system != 'Windows') "
    "or (platform_system == 'Linux' and platform_machine != 'x86_64') "
    "or (platform_system == 'Windows' and platform_machine != 'AMD64')",
]

setup(
    name="poselift",
    version=_version(),
    description="Temporal 3D human pose lifting: 2D keypoints in, smooth 3D poses out, "
    "with reproducible Human3.6M evaluation.",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    package_dir=PACKAGE_DIR,
    packages=_packages(),
    package_data=PACKAGE_DATA,
    include_package_data=False,  # exactly PACKAGE_DATA (MANIFEST.in only adds to the sdist)
    install_requires=[
        "torch>=2.1",
        "numpy>=1.24",
        "scipy>=1.10",
        "matplotlib>=3.7",
        "h5py>=3.8",
        "tqdm>=4.60",
        "pyyaml>=6.0",  # experiment configs are YAML files
        "av>=11",  # video decoding/encoding; the wheel bundles FFmpeg (no system ffmpeg)
        "pillow>=9",  # GIF animations, frame resizing, still images (matplotlib needs it anyway)
        "onnx>=1.15",  # poselift export writes ONNX graphs (and the tests build stand-in detector models)
        *ORT,
    ],
    extras_require={
        # MediaPipe BlazePose GHUM (poselift detect --detector blazepose) runs on LiteRT; imported only there
        "blazepose": ["ai-edge-litert>=2.3"],
        "dev": [
            "ai-edge-litert>=2.3",  # CI runs the BlazePose tests on the real model files
            "pytest>=7.4",
            "hypothesis>=6.80",  # property-based fuzzing of readers, configs, layouts, PAF grouping
            "nbclient>=0.7",  # the tests execute the notebooks
            "nbformat>=5.7",
            "ipykernel>=6.0",
            "wheel>=0.37",  # tests/cross/test_install.py builds the wheel offline (setuptools < 70 needs it)
        ],
    },
    entry_points={"console_scripts": ["poselift = poselift.commands:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
