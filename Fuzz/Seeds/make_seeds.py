"""Writes the fuzz seeds of Fuzz/Seeds from a tiny `caption train` run (run/ and runt/ given as arguments): the
model and checkpoint files shrunk to 2 encoder channels (so that each fits in a few KB), and their text metadata.
Usage: python3 make_seeds.py RUN_DIR_LSTM RUN_DIR_TRANSFORMER (each from `caption train ... --epochs 1` with
sizes of 4)."""
import json, struct, sys, os, random

here = os.path.dirname(os.path.abspath(__file__))

def read(p):
    b = open(p, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    return json.loads(b[8:8 + n])

def write(p, meta, tensors):
    header, data = {'__metadata__': meta}, b''
    for name, shape in tensors:
        count = 1
        for d in shape: count *= d
        raw = struct.pack('<%df' % count, *[random.uniform(-0.5, 0.5) for _ in range(count)])
        header[name] = {'dtype': 'F32', 'shape': shape, 'data_offsets': [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(',', ':')).encode()
    open(p, 'wb').write(struct.pack('<Q', len(h)) + h + data)

def shrink(run, name):
    random.seed(1)
    h = read(os.path.join(run, 'checkpoint.safetensors'))
    meta = h['__metadata__']
    config = json.loads(meta['config'])
    if 'configuration' in config['encoder']:
        open(os.path.join(here, 'metadata', 'smallcnn_configuration.txt'), 'w').write(config['encoder']['configuration'])
    C = config['encoder']['channels']
    config['encoder'].update(channels=2, embeddedWeights=False, name='resnet18')
    config['encoder'].pop('configuration', None)
    for k in ('lstm', 'transformer'):
        if k in config: config[k]['encoderSize'] = 2
    meta['config'] = json.dumps(config, separators=(',', ':'))
    E = config.get('lstm', {}).get('embeddingSize', 0)
    tensors = []
    for k, v in sorted(h.items()):
        if not k.startswith('decoder.'): continue
        tensors.append((k, [2 if d == C else (2 + E if d == C + E else d) for d in v['shape']]))
    count = sum(eval('*'.join(map(str, s)) or '1') for _, s in tensors)
    model_meta = {k: meta[k] for k in ('caption.kind', 'config', 'vocabulary')}
    write(os.path.join(here, 'safetensors', name + '_model.safetensors'), model_meta, tensors)
    write(os.path.join(here, 'safetensors', name + '_checkpoint.safetensors'), meta,
          tensors + [('optimizer.m', [count]), ('optimizer.v', [count])])
    for key in ('config', 'vocabulary', 'training.options', 'training.state'):
        open(os.path.join(here, 'metadata', '%s_%s.json' % (name, key)), 'w').write(meta[key])

shrink(sys.argv[1], 'lstm')
shrink(sys.argv[2], 'transformer')
