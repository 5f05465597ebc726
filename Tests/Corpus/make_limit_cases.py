"""Writes the hand-made cases of the regression corpus: inputs just above each resource limit, and the model
configs with impossible sizes that crashed `caption describe --model` before sizes were validated.
(The other files here are minimised libFuzzer findings, see Scripts/fuzz.sh.) Run from this directory."""
import json, struct

# A baseline JPEG fixture with its SOF0 size set to 20000x20000 (400 M pixels, above the 100 M limit).
jpeg = bytearray(open('../ImageCodecsTests/Fixtures/jpeg/baseline_420_33x17.jpg', 'rb').read())
sof = jpeg.index(b'\xff\xc0')
jpeg[sof + 5:sof + 9] = struct.pack('>HH', 20000, 20000)
open('jpeg/limit-pixels-20000x20000.jpg', 'wb').write(jpeg)

# A safetensors header length one byte above the 100 MiB limit (the file itself is tiny).
open('safetensors/limit-header-100MiB-plus-1.safetensors', 'wb').write(struct.pack('<Q', (100 << 20) + 1) + b'{}')

# Caption lines one byte above the 10,000-byte limit.
open('captions/hyp-limit-line-10001-bytes.txt', 'w').write('a.jpg\t' + 'x' * (10001 - 6) + '\n')
open('captions/token-limit-line-10001-bytes.txt', 'w').write('a.jpg#0\t' + 'x' * (10001 - 8) + '\n')
open('captions/hyp-limit-coco-caption-10001-bytes.json', 'w').write(json.dumps([{'image_id': 1, 'caption': 'x' * 10001}]))
open('captions/ref-limit-coco-caption-10001-bytes.json', 'w').write(json.dumps({'annotations': [{'image_id': 1, 'caption': 'x' * 10001}]}))
open('captions/karpathy-limit-caption-10001-bytes.json', 'w').write(json.dumps(
    {'images': [{'filename': 'a.jpg', 'split': 'train', 'sentences': [{'raw': 'x' * 10001}]}]}))
open('captions/coco-limit-caption-10001-bytes.json', 'w').write(json.dumps(
    {'images': [{'id': 1, 'file_name': 'a.jpg'}], 'annotations': [{'image_id': 1, 'caption': 'x' * 10001}]}))
open('captions/csv-limit-caption-10001-bytes.csv', 'w').write('image,caption\na.jpg,' + 'x' * 10001 + '\n')

# Model configs with impossible sizes (a small lstm model's config, one field changed).
config = json.load(open('../../Fuzz/Seeds/metadata/lstm_config.json'))
def variant(path, section, key, value):
    c = json.loads(json.dumps(config))
    c[section][key] = value
    open(path, 'w').write(json.dumps(c, separators=(',', ':')))
variant('metadata/config-hidden-size-negative.json', 'lstm', 'hiddenSize', -1)
variant('metadata/config-hidden-size-2e40.json', 'lstm', 'hiddenSize', 1 << 40)
variant('metadata/config-grid-size-negative.json', 'encoder', 'gridSize', -3)
variant('metadata/config-encoder-size-mismatch.json', 'lstm', 'encoderSize', 3)

# The same configs inside a model file (what `--model` reads).
def model_with(config_path, out):
    b = open('../../Fuzz/Seeds/safetensors/lstm_model.safetensors', 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    h = json.loads(b[8:8 + n])
    h['__metadata__']['config'] = open(config_path).read()
    hb = json.dumps(h, separators=(',', ':')).encode()
    open(out, 'wb').write(struct.pack('<Q', len(hb)) + hb + b[8 + n:])
model_with('metadata/config-hidden-size-negative.json', 'safetensors/model-hidden-size-negative.safetensors')
model_with('metadata/config-hidden-size-2e40.json', 'safetensors/model-hidden-size-2e40.safetensors')
model_with('metadata/config-grid-size-negative.json', 'safetensors/model-grid-size-negative.safetensors')
# Within the size limits, but a 4 KB file whose config asks for a decoder of 256 M parameters (1 GiB allocated).
variant('/tmp/config-hidden-size-8000.json', 'lstm', 'hiddenSize', 8000)
model_with('/tmp/config-hidden-size-8000.json', 'safetensors/model-hidden-size-8000.safetensors')

# Small-CNN encoder configurations asking for terabytes (crashed `describe --model` before channels were bounded).
open('metadata/smallcnn-limit-channels-1e8.txt', 'w').write('stem=16;blocks=100000000/1;projection=none')
open('metadata/smallcnn-limit-stem-4e12.txt', 'w').write('stem=4000000000000;blocks=32/1;projection=1280')

# A checkpoint state with a negative batch index (crashed `train --resume` before states were validated).
state = json.load(open('../../Fuzz/Seeds/metadata/lstm_training.state.json'))
state['batchInEpoch'] = -5
open('metadata/state-batch-in-epoch-negative.json', 'w').write(json.dumps(state, separators=(',', ':')))
