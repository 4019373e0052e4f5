"""The package targets the stage's Lambda runtime: its Python, its machine and its glibc, checked per .so."""

import json
import struct
import sys
from pathlib import Path

import pytest

from devtools.package_lambda.target import (
    LambdaTarget,
    check_shared_objects,
    lambda_target,
    read_shared_object,
)

SETTINGS = json.loads((Path(__file__).resolve().parents[2] / "zappa_settings.json").read_text())
X86_64, AARCH64 = 62, 183


def elf_shared_object(glibc_versions: list[str], machine: int = X86_64) -> bytes:
    """A minimal 64-bit little-endian ELF file whose SHT_GNU_verneed asks libc.so.6 for these versions."""
    strtab = b"\0libc.so.6\0"
    name_offsets = []
    for version in glibc_versions:
        name_offsets.append(len(strtab))
        strtab += version.encode() + b"\0"
    verneed = struct.pack("<HHIII", 1, len(glibc_versions), 1, 16, 0)
    for index, name in enumerate(name_offsets):
        last = index == len(name_offsets) - 1
        verneed += struct.pack("<IHHII", 0, 0, index + 2, name, 0 if last else 16)
    header_size, section_size = 64, 64
    strtab_offset = header_size
    verneed_offset = strtab_offset + len(strtab)
    sections_offset = verneed_offset + len(verneed)
    sections = [
        struct.pack("<IIQQQQIIQQ", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        struct.pack("<IIQQQQIIQQ", 0, 3, 0, 0, strtab_offset, len(strtab), 0, 0, 1, 0),  # SHT_STRTAB
        struct.pack("<IIQQQQIIQQ", 0, 0x6FFFFFFE, 0, 0, verneed_offset, len(verneed), 1, 1, 8, 0),
    ]
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    header = ident + struct.pack(
        "<HHIQQQIHHHHHH", 3, machine, 1, 0, 0, sections_offset, 0, header_size, 0, 0, section_size, 3, 0
    )
    return header + strtab + verneed + b"".join(sections)


def write_library(root: Path, name: str, glibc_versions: list[str], machine: int = X86_64) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(elf_shared_object(glibc_versions, machine))
    return path


TARGET = LambdaTarget("python3.13", "x86_64")


def test_the_prod_stage_targets_python313_on_amazon_linux_2023(prod_stage):
    assert lambda_target(prod_stage) == TARGET
    assert TARGET.python == sys.version_info[:2] == (3, 13)
    assert TARGET.glibc == (2, 34)


def test_reads_the_symbol_versions_and_machine_of_a_shared_object(tmp_path):
    needs = ["GLIBC_2.2.5", "GLIBC_2.17", "GLIBC_2.28", "GLIBC_PRIVATE", "GLIBCXX_3.4.21", "CXXABI_1.3.9"]
    shared = read_shared_object(write_library(tmp_path, "lib.so", needs))
    assert shared.machine == X86_64
    assert shared.needs["GLIBC"] == {(2, 2, 5), (2, 17), (2, 28)}
    assert shared.needs["GLIBCXX"] == {(3, 4, 21)} and shared.needs["CXXABI"] == {(1, 3, 9)}


@pytest.mark.parametrize(
    ("versions", "highest"),
    [
        (["GLIBC_2.17"], (2, 17)),
        (["GLIBC_2.27", "GLIBC_2.28"], (2, 28)),
        (["GLIBC_2.34"], (2, 34)),
        ([], (2, 3)),
    ],
    ids=["manylinux2014", "manylinux_2_28", "manylinux_2_34", "no-glibc"],
)
def test_what_amazon_linux_2023_provides_is_accepted(tmp_path, versions, highest):
    write_library(tmp_path, "pkg/_ext.cpython-313-x86_64-linux-gnu.so", versions)
    write_library(tmp_path, "pkg.libs/libold.so.1.2", ["GLIBC_2.3"])
    assert check_shared_objects(tmp_path, TARGET) == {"GLIBC": highest}


@pytest.mark.parametrize("version", ["GLIBC_2.35", "GLIBC_2.38"])
def test_a_shared_object_needing_a_newer_glibc_fails_the_build(tmp_path, version):
    write_library(tmp_path, "fine.so", ["GLIBC_2.17"])
    write_library(tmp_path, "pkg.libs/libnew.so.3", ["GLIBC_2.17", version])
    with pytest.raises(SystemExit) as refused:
        check_shared_objects(tmp_path, TARGET)
    message = str(refused.value)
    assert f"pkg.libs/libnew.so.3 needs {version}" in message
    assert "fine.so" not in message


def test_a_library_linked_for_glibc_236_relr_fails_the_build(tmp_path):
    # Linkers on glibc 2.36+ systems may ask for GLIBC_ABI_DT_RELR, a version node 2.34 does not have.
    write_library(tmp_path, "pkg/_relr.so", ["GLIBC_2.17", "GLIBC_ABI_DT_RELR"])
    with pytest.raises(SystemExit, match=r"pkg/_relr.so needs GLIBC_2.36"):
        check_shared_objects(tmp_path, TARGET)


def test_cpp_code_is_held_to_amazon_linux_2023s_libstdcxx(tmp_path):
    # libheif in pillow-heif's wheel, for one, links the system's libstdc++.so.6.
    write_library(tmp_path, "ok/libheif.so.1", ["GLIBC_2.17", "GLIBCXX_3.4.22", "CXXABI_1.3.9"])
    needs = check_shared_objects(tmp_path, TARGET)
    assert needs == {"GLIBC": (2, 17), "GLIBCXX": (3, 4, 22), "CXXABI": (1, 3, 9)}
    write_library(tmp_path, "new/libcxx20.so.1", ["GLIBC_2.17", "GLIBCXX_3.4.30", "CXXABI_1.3.14"])
    with pytest.raises(SystemExit) as refused:
        check_shared_objects(tmp_path, TARGET)
    assert "new/libcxx20.so.1 needs GLIBCXX_3.4.30" in str(refused.value)
    assert "new/libcxx20.so.1 needs CXXABI_1.3.14" in str(refused.value)
    assert "libheif" not in str(refused.value)


def test_another_machines_code_fails_the_build(tmp_path):
    write_library(tmp_path, "pkg/_ext.so", ["GLIBC_2.17"], machine=AARCH64)
    with pytest.raises(SystemExit, match=r"pkg/_ext.so is not x86_64 code"):
        check_shared_objects(tmp_path, TARGET)
    arm = LambdaTarget("python3.13", "arm64")
    assert check_shared_objects(tmp_path, arm) == {"GLIBC": (2, 17)}


def test_pip_is_asked_for_every_manylinux_level_the_runtime_loads():
    args = TARGET.pip_args()
    platforms = [args[i + 1] for i, arg in enumerate(args) if arg == "--platform"]
    # pip does not widen a perennial tag by itself: 2_34 down to 2_17, then manylinux2014 (2010, 1).
    assert platforms[0] == "manylinux_2_34_x86_64" and "manylinux_2_28_x86_64" in platforms
    assert platforms[-2:] == ["manylinux_2_17_x86_64", "manylinux2014_x86_64"]
    assert not any(platform.startswith("manylinux_2_35") for platform in platforms)
    assert args[args.index("--python-version") + 1] == "3.13"
    assert "--only-binary=:all:" in args and args[args.index("--implementation") + 1] == "cp"
    arm = LambdaTarget("python3.13", "arm64").pip_args()
    assert "manylinux_2_28_aarch64" in arm and not any("x86_64" in arg for arg in arm)


@pytest.mark.parametrize(
    ("stage", "refusal"),
    [
        ({"runtime": "python3.11"}, "Amazon Linux 2, past its end of support"),
        ({"runtime": "python3.12"}, "needs the package built by Python 3.12, not 3.13"),
        ({"runtime": "python3.13", "architecture": "sparc"}, "architecture 'sparc'"),
    ],
)
def test_a_runtime_this_interpreter_cannot_build_for_is_refused(stage, refusal):
    with pytest.raises(SystemExit, match=refusal):
        lambda_target(stage)


def test_one_python_everywhere():
    """The venv's Python, .python-version, pyproject and the Lambda runtime name one minor version."""
    import tomllib

    root = Path(__file__).resolve().parents[2]
    local = (root / ".python-version").read_text().strip()
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    version = "{}.{}".format(*sys.version_info[:2])
    assert local == version == "3.13"
    assert pyproject["project"]["requires-python"] == ">=3.13,<3.14"
    assert pyproject["tool"]["ruff"]["target-version"] == "py313"
    runtimes = {stage.get("runtime") for stage in SETTINGS.values()} - {None}
    assert runtimes == {f"python{version}"}
