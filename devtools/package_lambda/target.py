"""The Lambda runtime and machine a stage deploys on, and which shared objects can load there."""

import struct
import sys
from dataclasses import dataclass
from pathlib import Path

# What a shared object may ask of Amazon Linux 2023: glibc 2.34, and GCC 11's libstdc++ for C++ code
# (the versioned-symbol families a manylinux wheel is held to).
AMAZON_LINUX_2023 = {"GLIBC": (2, 34), "GLIBCXX": (3, 4, 29), "CXXABI": (1, 3, 13)}
# The Lambda runtimes the package may target, with what their operating system's libraries provide.
# python3.11 and older run on Amazon Linux 2, past its end of support (2026-06-30): refused.
LAMBDA_RUNTIMES = {
    "python3.12": AMAZON_LINUX_2023,
    "python3.13": AMAZON_LINUX_2023,
    "python3.14": AMAZON_LINUX_2023,
}
# Zappa's `architecture` -> the machine in wheel tags, and the ELF e_machine its shared objects carry.
LAMBDA_ARCHITECTURES = {"x86_64": ("x86_64", 62), "arm64": ("aarch64", 183)}
# The oldest perennial manylinux tag listed: older wheels are reached through the legacy aliases below.
OLDEST_MANYLINUX_MINOR = 17


@dataclass(frozen=True)
class LambdaTarget:
    """The runtime and architecture a stage deploys on, and what a wheel must be to load there."""

    runtime: str
    architecture: str

    @property
    def python(self) -> tuple[int, int]:
        """(3, 13) for python3.13."""
        major, minor = self.runtime.removeprefix("python").split(".")
        return int(major), int(minor)

    @property
    def provides(self) -> dict[str, tuple[int, ...]]:
        """The newest version of each symbol family (GLIBC, GLIBCXX, CXXABI) the runtime's libraries have."""
        return LAMBDA_RUNTIMES[self.runtime]

    @property
    def glibc(self) -> tuple[int, int]:
        major, minor = self.provides["GLIBC"]
        return major, minor

    @property
    def machine(self) -> str:
        return LAMBDA_ARCHITECTURES[self.architecture][0]

    @property
    def elf_machine(self) -> int:
        return LAMBDA_ARCHITECTURES[self.architecture][1]

    def pip_args(self) -> list[str]:
        """Binary wheels for this runtime only: cp3XY, this machine, any manylinux level its glibc loads.

        pip does not widen a perennial tag (manylinux_2_34 does not admit manylinux_2_28), so every level
        is listed, newest first; `manylinux2014` brings the legacy 2010 and 1 tags with it.
        """
        major, minor = self.glibc
        platforms = [
            f"manylinux_{major}_{level}_{self.machine}"
            for level in range(minor, OLDEST_MANYLINUX_MINOR - 1, -1)
        ]
        platforms.append(f"manylinux2014_{self.machine}")
        args = [
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            "{}.{}".format(*self.python),
        ]
        for platform in platforms:
            args += ["--platform", platform]
        return args


def lambda_target(stage_config: dict) -> LambdaTarget:
    """The stage's runtime and architecture, refused unless this interpreter can build for them.

    The package ships .pyc files compiled here, valid only for this Python's minor version.
    """
    runtime = stage_config.get("runtime", "")
    architecture = stage_config.get("architecture", "x86_64")
    if runtime not in LAMBDA_RUNTIMES:
        raise SystemExit(
            f"runtime {runtime!r} is not one this project ships on ({', '.join(LAMBDA_RUNTIMES)}: "
            "Amazon Linux 2023); python3.11 and older run on Amazon Linux 2, past its end of support"
        )
    if architecture not in LAMBDA_ARCHITECTURES:
        raise SystemExit(f"architecture {architecture!r} is not one of {', '.join(LAMBDA_ARCHITECTURES)}")
    target = LambdaTarget(runtime, architecture)
    if sys.version_info[:2] != target.python:
        raise SystemExit(
            "the {} runtime needs the package built by Python {}.{}, not {}.{} (its .pyc files are "
            "version-specific): run it from the project's venv (make package)".format(
                runtime, *target.python, *sys.version_info[:2]
            )
        )
    return target


# ---- glibc: read each shared object's ELF version needs ------------------------------------------------


def symbol_version(family: str, version: tuple[int, ...]) -> str:
    """("GLIBC", (2, 34)) -> "GLIBC_2.34", as ELF version nodes are written."""
    return f"{family}_{'.'.join(map(str, version))}"


# Version nodes named, not numbered, by the glibc release that introduced them.
NAMED_SYMBOL_VERSIONS = {"GLIBC_ABI_DT_RELR": "GLIBC_2.36"}


@dataclass(frozen=True)
class SharedObject:
    """What the loader will ask of the runtime for one ELF shared object."""

    machine: int  # e_machine: 62 x86_64, 183 aarch64
    # The symbol versions it needs (its SHT_GNU_verneed section) by family: {"GLIBC": {(2, 17), ...}, ...}
    needs: dict[str, set[tuple[int, ...]]]


def read_shared_object(path: Path) -> SharedObject:
    """Read a 64-bit little-endian ELF file's machine and symbol version needs."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError(f"{path}: not a 64-bit little-endian ELF file")
    (machine,) = struct.unpack_from("<H", data, 0x12)
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    needed: dict[str, set[tuple[int, ...]]] = {}
    for _name, kind, _flags, _addr, offset, _size, link, count, _align, _entsize in sections:
        if kind != 0x6FFFFFFE:  # SHT_GNU_verneed
            continue
        strtab_offset = sections[link][4]
        entry = offset
        for _ in range(count):
            _version, aux_count, _file, aux, next_entry = struct.unpack_from("<HHIII", data, entry)
            aux_entry = entry + aux
            for _ in range(aux_count):
                _hash, _aux_flags, _other, name, next_aux = struct.unpack_from("<IHHII", data, aux_entry)
                end = data.index(b"\0", strtab_offset + name)
                label = data[strtab_offset + name : end].decode()
                label = NAMED_SYMBOL_VERSIONS.get(label, label)
                family, _, version = label.partition("_")
                if version and all(part.isdigit() for part in version.split(".")):  # not GLIBC_PRIVATE
                    needed.setdefault(family, set()).add(tuple(int(part) for part in version.split(".")))
                aux_entry += next_aux
            entry += next_entry
    return SharedObject(machine, needed)


def check_shared_objects(root: Path, target: LambdaTarget) -> dict[str, tuple[int, ...]]:
    """The highest version of each symbol family any .so under root needs; fails on what cannot load.

    Refused: a symbol version above what the runtime's libraries have (Amazon Linux 2023: GLIBC_2.34, so
    manylinux_2_34, _2_28 and older wheels load and a manylinux_2_35 one does not; GCC 11's libstdc++,
    GLIBCXX_3.4.29 and CXXABI_1.3.13, for C++ code), or another machine's code.
    """
    highest: dict[str, tuple[int, ...]] = {}
    refused = []
    for library in sorted(root.rglob("*.so*")):
        if not library.is_file():
            continue
        shared = read_shared_object(library)
        where = library.relative_to(root)
        for family, versions in shared.needs.items():
            top = max(versions)
            highest[family] = max(highest.get(family, ()), top)
            if family in target.provides and top > target.provides[family]:
                refused.append(f"{where} needs {symbol_version(family, top)}")
        if shared.machine != target.elf_machine:
            refused.append(f"{where} is not {target.machine} code (ELF machine {shared.machine})")
    if refused:
        provides = ", ".join(symbol_version(family, top) for family, top in target.provides.items())
        raise SystemExit(
            f"Shared objects that {target.runtime} on {target.architecture} ({provides}) cannot load:\n  "
            + "\n  ".join(refused)
        )
    return highest
