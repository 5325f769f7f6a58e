"""Peak host memory of TAE decoding, temporally tiled vs untiled, as the video grows.

Each measurement runs in a fresh process: build the tiny TAE, make the latent, reset the kernel's
peak-RSS counter (``/proc/self/clear_refs``), decode, read ``VmHWM``. The figure reported is the
growth of the peak over the resident size just before decoding, in MiB; ``output`` is the size of the
decoded video itself, which any decoder must hold.

glibc's malloc raises its mmap threshold each time a large block is freed, after which big tensors come
from the heap and its fragmentation shows up in the peak: the tiled peaks then moved by tens of MiB
between identical runs and grew with the number of tiles. The children run with the threshold fixed
(``MALLOC_MMAP_THRESHOLD_``, 128 KiB, glibc's default start), so every large tensor is its own mapping
and the peak measures the decoder, not the allocator's history; ``--repeats`` runs each case in that
many processes and the median counts.

    python bench/tae_tiling.py [--frames 32 64 128 256] [--preset moviegen-tae-tiny] [--repeats 3] [--json out.json]

Target (issue acceptance): tiled peak at 256 frames within 1.2x of the tiled peak at 32 frames.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

from common import bench_parser, write_json

MMAP_THRESHOLD = 128 * 1024  # bytes: glibc's initial M_MMAP_THRESHOLD, kept fixed in the children
CHILD = r"""
import json, sys, torch
import zoo
preset, frames, tiled = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "tiled"
torch.manual_seed(0)
torch.set_num_threads(1)
tae = zoo.load(preset, weights=False).autoencoder.eval()
p = tae.params
latent = torch.randn(1, *tae.latent_shape(frames, 64, 64))

def rss_kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])

with torch.inference_mode():
    tae.decode(torch.randn(1, *tae.latent_shape(p.temporal_tile_frames, 64, 64)), tiled=False)  # warm-up
    before = rss_kib("VmRSS:")
    open("/proc/self/clear_refs", "w").write("5")
    video = tae.decode(latent, frames=frames, tiled=tiled)
    peak = rss_kib("VmHWM:")
print(json.dumps({"frames": frames, "tiled": tiled, "peak_growth_mib": (peak - before) / 1024,
                  "output_mib": video.numel() * video.element_size() / 2**20}))
"""


def measure_once(preset: str, frames: int, tiled: bool) -> dict:
    mode = "tiled" if tiled else "untiled"
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD)}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, preset, str(frames), mode], capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(preset: str, frames: int, tiled: bool, repeats: int) -> dict:
    """The median peak growth of ``repeats`` fresh processes, with every run's figure."""
    runs = [measure_once(preset, frames, tiled) for _ in range(repeats)]
    peaks = [r["peak_growth_mib"] for r in runs]
    return {**runs[0], "peak_growth_mib": statistics.median(peaks), "runs_mib": peaks}


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--frames", type=int, nargs="+", default=[32, 64, 128, 256])
    parser.add_argument("--preset", default="moviegen-tae-tiny")
    parser.add_argument("--repeats", type=int, default=3, help="Fresh processes per case; the median counts.")
    parser.add_argument("--json", default="bench/results/tae_tiling.json")
    args = parser.parse_args()
    rows = [measure(args.preset, n, tiled, args.repeats) for n in args.frames for tiled in (True, False)]
    print(f"{'frames':>7} {'tiled peak MiB':>15} {'untiled peak MiB':>17} {'output MiB':>11}")
    for n in args.frames:
        t = next(r for r in rows if r["frames"] == n and r["tiled"])
        u = next(r for r in rows if r["frames"] == n and not r["tiled"])
        print(f"{n:>7} {t['peak_growth_mib']:>15.1f} {u['peak_growth_mib']:>17.1f} {t['output_mib']:>11.1f}")
    tiled = [r for r in rows if r["tiled"]]
    ratio = tiled[-1]["peak_growth_mib"] / tiled[0]["peak_growth_mib"]
    print(f"tiled peak ratio {args.frames[-1]} / {args.frames[0]} frames: {ratio:.2f} (target <= 1.2)")
    write_json(args.json, {"preset": args.preset, "repeats": args.repeats, "mmap_threshold": MMAP_THRESHOLD,
                           "rows": rows, "tiled_ratio": ratio})


if __name__ == "__main__":
    main()
