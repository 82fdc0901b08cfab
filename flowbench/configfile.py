"""Config files given on the Snakemake command line.

Snakemake 9 reads every ``--configfile`` itself, before the Snakefile runs, and deep-merges them
in the order given (nested mappings key by key, a later file's value winning; lists are replaced,
not concatenated); ``--config key=value`` is applied last. Two of its behaviours lose
information, and the Snakefile can only see their result:

- a YAML syntax error stops it with "Config file is not valid JSON or YAML" (no file, no line),
  and a missing file with a Python traceback; the Snakefile never runs. ``python -m
  flowbench.configfile FILE...`` reads the files the same way and names the file, line and column;
- ``--configfile a.yaml --configfile b.yaml`` (the option repeated) keeps only the last list:
  a.yaml is silently ignored. ``repeated_configfile_error(sys.argv)`` detects that.

Also here: ``check_config_files`` re-reads the files Snakemake merged to refuse a key given twice
in one file (plain YAML keeps the last one silently) and ``merged_configfiles_note``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from flowbench.config import ConfigError, deep_merge, read_config_file, validate_config
from flowbench.outputs import check_report_dir

_OPTIONS = ("--configfile", "--configfiles")


def _is_configfile_option(token: str) -> bool:
    name = token.split("=", 1)[0]
    # argparse also accepts an unambiguous prefix (--configf...)
    return len(name) >= len("--configf") and any(opt.startswith(name) for opt in _OPTIONS)


def configfile_groups(argv: list[str]) -> list[list[str]]:
    """The file list of each ``--configfile``/``--configfiles`` option in a Snakemake command line,
    in order (argparse takes every following word up to the next option)."""
    groups: list[list[str]] = []
    it = iter(argv[1:])
    current = None
    for tok in it:
        if tok == "--":
            current = None
            continue
        if tok.startswith("-") and len(tok) > 1:
            current = None
            if _is_configfile_option(tok):
                if "=" in tok:
                    groups.append([tok.split("=", 1)[1]])
                else:
                    current = []
                    groups.append(current)
            continue
        if current is not None:
            current.append(tok)
    return groups


def repeated_configfile_error(argv: list[str]) -> str | None:
    """A message when ``--configfile`` is given more than once (Snakemake then uses only the last
    one's files and silently ignores the others), else None."""
    groups = configfile_groups(argv)
    if len(groups) < 2:
        return None
    ignored = [f for g in groups[:-1] for f in g]
    return (f"--configfile was given {len(groups)} times; Snakemake uses only the last one "
            f"({' '.join(groups[-1])}) and would ignore {' '.join(ignored)}. To combine config files "
            f"list them after one option: --configfile {' '.join(f for g in groups for f in g)}")


def _shown(path) -> str:
    """``path`` relative to the working directory when it lies below it (Snakemake stores the
    --configfile paths as absolute ones)."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def merged_configfiles_note(configfiles) -> str | None:
    """A one-line note when more than one config file was merged, else None."""
    names = [_shown(f) for f in configfiles]
    if len(names) < 2:
        return None
    return (f"note: {len(names)} config files merged in this order, each later file overriding "
            f"the keys it sets (nested mappings merged key by key, lists replaced): {', '.join(names)}")


def check_config_files(configfiles) -> None:
    """Re-read each config file Snakemake merged; ConfigError naming the file and line of a key
    given twice in one mapping (Snakemake's YAML reader silently keeps the last one)."""
    for f in configfiles:
        read_config_file(_shown(f))


def main(argv: list[str] | None = None) -> int:
    """``python -m flowbench.configfile FILE...``: read the files as ``--configfile FILE...``
    would (merged in order), validate, check ``report_dir`` (``flowbench.outputs``) and print one
    line: OK or the problem."""
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help"):
        print("usage: python -m flowbench.configfile CONFIG.yaml [MORE.yaml ...]\n"
              "Reads and merges the files in order, as `snakemake --configfile FILE...` does, and "
              "validates the result.")
        return 0 if args else 2
    try:
        config: dict = {}
        for f in args:
            config = deep_merge(config, read_config_file(f))
        validate_config(config)
        # where it would write, as the Snakefile checks it (this checkout's config/config.yaml)
        check_report_dir(config, args, {}, Path(__file__).resolve().parents[1], Path.cwd())
    except ConfigError as err:
        print(f"Invalid configuration: {err}", file=sys.stderr)
        return 1
    print(f"config OK: {' + '.join(str(Path(f)) for f in args)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
