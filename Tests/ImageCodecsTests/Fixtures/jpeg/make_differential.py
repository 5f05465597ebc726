"""Writes a differential corpus for JPEGDifferentialTests (not committed, not run in CI):

    python3 make_differential.py OUTDIR      (needs Pillow, numpy and cjpeg from libjpeg-turbo-progs)
    JPEG_DIFF=OUTDIR swift test -c release -Xswiftc -enable-testing --disable-swift-testing --filter JPEGDifferentialTests

400 seeded random configurations of size, quality, sampling factors, progressive, optimised tables,
restart intervals, RGB colour space and arithmetic coding; for each NAME.jpg, NAME.rgb holds Pillow's convert("RGB").
"""
import io, os, random, subprocess, sys, tempfile
import numpy as np
from PIL import Image
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = random.Random(1234)
def synth(w, h, seed, ch):
    r = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([255*x/max(w-1,1), 255*y/max(h-1,1), 127.5+127.5*np.sin((x+2*y)/3.0), 255*((x//5+y//4)%2)], -1)[..., :ch]
    return np.clip(base + r.normal(0, rng.choice([5, 30, 80]), base.shape), 0, 255).astype(np.uint8)
samples = ["1x1", "2x1", "1x2", "2x2", "4x1", "1x4", "4x2", "2x4", "2x2,1x1,2x1", "1x1,2x2,1x2", "2x2,2x1,1x2", "3x1", "3x3,1x1,1x1", "4x4,1x1,1x1", "2x2,2x2,2x2", "1x1,2x1,1x1"]
n = 0
for i in range(400):
    w, h = rng.randint(1, 90), rng.randint(1, 90)
    gray = rng.random() < 0.15
    arr = synth(w, h, i, 1 if gray else 3)
    d = tempfile.mkdtemp()
    src = os.path.join(d, 'in.pgm' if gray else 'in.ppm')
    Image.fromarray(arr[..., 0] if gray else arr).save(src)
    args = ['cjpeg', '-quality', str(rng.choice([5, 30, 50, 75, 90, 95, 100]))]
    if gray: args += ['-grayscale']
    else: args += ['-sample', rng.choice(samples)]
    if rng.random() < 0.4: args += ['-progressive']
    if rng.random() < 0.3: args += ['-optimize']
    if rng.random() < 0.3: args += ['-restart', rng.choice(['1', '2', '1B', '3B', '7B'])]
    if rng.random() < 0.1: args += ['-rgb'] if not gray else []
    if rng.random() < 0.25: args += ['-arithmetic']
    try:
        data = subprocess.run(args + [src], check=True, capture_output=True).stdout
    except subprocess.CalledProcessError as e:
        continue
    name = f"f{i:03d}"
    open(os.path.join(out, name + '.jpg'), 'wb').write(data)
    im = Image.open(io.BytesIO(data)).convert('RGB')
    open(os.path.join(out, name + '.rgb'), 'wb').write(np.asarray(im).tobytes())
    open(os.path.join(out, name + '.txt'), 'w').write(' '.join(args[1:]) + f' {w}x{h}\n')
    n += 1
print(n, 'files')
