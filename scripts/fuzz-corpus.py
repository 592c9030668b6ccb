#!/usr/bin/env python3
"""Cuts a fuzz target's corpus down to a few dozen files that keep most of its coverage.

`cargo fuzz cmin` keeps every file that adds a feature, which for the YAML targets is still
hundreds of files. This runs libFuzzer's set-cover merge on edges only (`-set_cover_merge=1
-use_counters=0`) with a control file, which lists every edge each file covers, then picks
greedily the file covering the most edges not covered yet (smaller first on ties) until
nothing new is covered or LIMIT files are kept, copies them to OUT_DIR and says how much of
the corpus's coverage they keep. Files named by hand (not a 40-digit hash, as libFuzzer names
what it finds) are seeds that show a case on purpose, such as an input just past a limit: they
are always kept, and picking starts from what they cover.

usage (from fuzz/, after `cargo +nightly fuzz build`; set CARGO_TARGET_DIR if the build used
another target directory):
    python3 ../scripts/fuzz-corpus.py TARGET IN_DIR OUT_DIR [LIMIT]
e.g.
    python3 ../scripts/fuzz-corpus.py tenant_file /tmp/everything corpus/tenant_file 48
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile


def edges_per_file(binary, corpus):
    """{file path: set of edges it covers}, from a set-cover merge's control file."""
    with tempfile.TemporaryDirectory() as work:
        control = os.path.join(work, "control")
        empty = os.path.join(work, "empty")
        os.mkdir(empty)
        subprocess.run(
            [binary, "-merge=1", "-set_cover_merge=1", "-use_counters=0",
             f"-merge_control_file={control}", "-max_len=1000000", empty, corpus],
            capture_output=True, check=True,
        )
        lines = open(control).read().splitlines()
    n_files = int(lines[0])
    paths = lines[2:2 + n_files]
    edges = {path: set() for path in paths}
    for line in lines[2 + n_files:]:
        if line.startswith("FT "):
            idx, *features = line.split()[1:]
            edges[paths[int(idx)]].update(features)
    return edges


def main():
    target, corpus, out = sys.argv[1], sys.argv[2], sys.argv[3]
    limit = int(sys.argv[4]) if len(sys.argv) > 4 else 48
    target_dir = os.environ.get("CARGO_TARGET_DIR", "target")
    binary = os.path.join(target_dir, "x86_64-unknown-linux-gnu", "release", target)
    edges = edges_per_file(binary, corpus)
    everything = set().union(*edges.values())
    seeds = [p for p in edges if not re.fullmatch(r"[0-9a-f]{40}", os.path.basename(p))]
    kept, covered = list(seeds), set().union(set(), *(edges[p] for p in seeds))
    while len(kept) < limit:
        best = max(edges, key=lambda p: (len(edges[p] - covered), -os.path.getsize(p)))
        if not edges[best] - covered:
            break
        kept.append(best)
        covered |= edges[best]
    os.makedirs(out, exist_ok=True)
    for path in kept:
        shutil.copy(path, out)
    print(f"{target}: {len(kept)} of {len(edges)} files ({len(seeds)} seeds) keep {len(covered)} of the {len(everything)} edges")


if __name__ == "__main__":
    main()
