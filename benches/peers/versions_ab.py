"""Two liverkit binaries on the same commands, interleaved round by round:
the check that a refactoring changed neither the output nor the speed.

    python3 benches/peers/versions_ab.py OLD_BINARY NEW_BINARY [ROUNDS]
        [--phantom FILE]   # default /tmp/phantom/phantom.nii.gz, made with
                           # benches/peers/phantom.py when missing

Build the old one in a worktree, for example:

    git worktree add /tmp/old COMMIT
    (cd /tmp/old && CARGO_TARGET_DIR=/tmp/old-target cargo build --release)

Prints each command's median wall time (process start to exit) for both,
the ratio new/old, and whether their stdout is byte-identical.
"""
import os
import statistics
import subprocess
import sys
import time

args = [a for a in sys.argv[1:] if not a.startswith("--phantom")]
phantom = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--phantom=")), "/tmp/phantom/phantom.nii.gz")
old, new = args[0], args[1]
rounds = int(args[2]) if len(args) > 2 else 5
if not os.path.exists(phantom):
    os.makedirs(os.path.dirname(phantom), exist_ok=True)
    subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "phantom.py"), phantom], check=True)
cmds = {
  "volumes phantom 512x512x300 .nii.gz": ["volumes", "--json", phantom],
  "volumes TotalSegmentator example": ["volumes", "--json", "testdata/totalsegmentator/example_seg.nii.gz"],
  "volumes DICOM SEG (dcmqi liver)": ["volumes", "--json", "testdata/dcmqi/liver.dcm"],
  "volumes NRRD (dcmqi liver+spine)": ["volumes", "--json", "testdata/dcmqi/liver_spine_seg.nrrd"],
  "info DICOM CT series": ["info", "--json", "testdata/totalsegmentator/example_ct_dicom"],
  "remnant sample": ["remnant", "testdata/sample_case/pre_pve.nii.gz", "--resection", "right-hepatectomy", "--json"],
  "margin sample": ["margin", "--tumor", "testdata/sample_case/pre_pve.nii.gz:liver_tumor", "--zone", "testdata/sample_case/ablation_zone.nii.gz", "--json"],
  "simulate sample (MWA 50 W 10 min)": ["simulate", "testdata/sample_case/pre_pve.nii.gz", "--applicator", "mwa", "--power-w", "50", "--time-s", "600", "--tip", "70,-30,-45", "--direction", "0,0,-1", "--json"],
}
for name, args in cmds.items():
    t = {old: [], new: []}
    outs = {}
    for r in range(rounds):
        for b in ((old, new) if r % 2 == 0 else (new, old)):
            s = time.perf_counter()
            p = subprocess.run([b, *args], capture_output=True)
            t[b].append(time.perf_counter() - s)
            outs[b] = p.stdout
    same = outs[old] == outs[new]
    mo, mn = statistics.median(t[old]), statistics.median(t[new])
    print(f"{name:40s} old {mo:7.3f} s  new {mn:7.3f} s  new/old {mn/mo:5.2f}  output {'identical' if same else 'DIFFERS'}")
