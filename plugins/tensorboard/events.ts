/**
 * TensorBoard's event file format: records framed as TensorFlow's record writer frames them, holding
 * `tensorboard.Event` messages (tensorboard/compat/proto/event.proto, summary.proto, tensor.proto) for
 * scalars, text (the text plugin) and hyperparameters (the HParams plugin's plugin_data.proto and api.proto).
 * Field numbers are written beside each field as the .proto files give them. Imported by writer.ts and
 * index.ts.
 */
import { maskedCrc32c } from './crc32c.js';
import { ProtoMessage } from 'dumbo';

/** `uint64 length | masked crc32c(length bytes) | data | masked crc32c(data)`, all little-endian. */
export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

export const FILE_VERSION = 'brain.Event:2';

// DataType (types.proto), HParams' DataType and Status (api.proto).
const DT_FLOAT = 1;
const DT_STRING = 7;
const HPARAM_STRING = 1;
const HPARAM_BOOL = 2;
const HPARAM_FLOAT64 = 3;
export const SESSION_STATUS = { unknown: 0, success: 1, failure: 2, running: 3 } as const;

/** Event { wall_time = 1 (double); step = 2 (int64); summary = 5 | file_version = 3 }. */
function event(wallTime: number, step: number, what: (e: ProtoMessage) => void): Uint8Array {
  const e = new ProtoMessage().double(1, wallTime);
  if (step !== 0) e.int(2, step);
  what(e);
  return e.encode();
}

/** The first event of every file, which names the format's version. */
export function fileVersionEvent(wallTime: number): Uint8Array {
  return event(wallTime, 0, (e) => e.string(3, FILE_VERSION));
}

/** Summary { repeated Value value = 1 }, with one value. */
function summaryEvent(wallTime: number, step: number, value: ProtoMessage): Uint8Array {
  return event(wallTime, step, (e) => e.message(5, new ProtoMessage().message(1, value)));
}

/** Summary.Value { tag = 1; simple_value = 2 (float) }: the scalars plugin's legacy form, which it reads. */
export function scalarEvent(tag: string, value: number, step: number, wallTime: number): Uint8Array {
  return summaryEvent(wallTime, step, new ProtoMessage().string(1, tag).float(2, value));
}

/** SummaryMetadata { plugin_data = 1 { plugin_name = 1; content = 2 } }. */
function pluginMetadata(pluginName: string, content: Uint8Array): ProtoMessage {
  const data = new ProtoMessage().string(1, pluginName);
  if (content.length > 0) data.bytes(2, content);
  return new ProtoMessage().message(1, data);
}

/** TensorShapeProto { repeated Dim dim = 2 { size = 1 } }; no dims: a scalar. */
function shape(dims: number[]): ProtoMessage {
  const s = new ProtoMessage();
  for (const size of dims) {
    const dim = new ProtoMessage();
    if (size !== 0) dim.int(1, size);
    s.message(2, dim);
  }
  return s;
}

/**
 * The text plugin's summary: Value { tag = 1; metadata = 9 (plugin "text", content TextPluginData{version 0},
 * which encodes to nothing); tensor = 8 TensorProto { dtype = 1 DT_STRING; tensor_shape = 2 (scalar);
 * string_val = 8 } }. TensorBoard renders the string as Markdown.
 */
export function textEvent(tag: string, text: string, step: number, wallTime: number): Uint8Array {
  const tensor = new ProtoMessage().int(1, DT_STRING).message(2, shape([])).string(8, text);
  const value = new ProtoMessage()
    .string(1, tag)
    .message(9, pluginMetadata('text', new Uint8Array()))
    .message(8, tensor);
  return summaryEvent(wallTime, step, value);
}

/** The HParams plugin's tensor for summaries that carry only metadata: an empty float vector (metadata.py). */
const NULL_TENSOR = new ProtoMessage().int(1, DT_FLOAT).message(2, shape([0]));

/** A summary whose metadata holds HParamsPluginData { version = 1 (0, elided); `field` = data }. */
function hparamsEvent(tag: string, field: number, data: ProtoMessage, wallTime: number): Uint8Array {
  const content = new ProtoMessage().message(field, data).encode();
  const value = new ProtoMessage()
    .string(1, tag)
    .message(9, pluginMetadata('hparams', content))
    .message(8, NULL_TENSOR);
  return summaryEvent(wallTime, 0, value);
}

export type HParamValue = number | string | boolean;

/** What a hyperparameter becomes: numbers, strings and booleans as they are; lists and objects as JSON text. */
export function hparamValue(value: unknown): HParamValue | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return value;
  return JSON.stringify(value);
}

/** google.protobuf.Value { number_value = 2 (double) | string_value = 3 | bool_value = 4 }. */
function protoValue(value: HParamValue): ProtoMessage {
  const v = new ProtoMessage();
  if (typeof value === 'number') return v.double(2, value);
  if (typeof value === 'string') return v.string(3, value);
  return v.bool(4, value);
}

/**
 * `_hparams_/session_start_info`: SessionStartInfo { map<string, Value> hparams = 1 (entries { key = 1;
 * value = 2 }); start_time_secs = 5 } in HParamsPluginData field 3.
 */
export function sessionStartEvent(hparams: Record<string, HParamValue>, wallTime: number): Uint8Array {
  const info = new ProtoMessage();
  for (const [key, value] of Object.entries(hparams)) {
    info.message(1, new ProtoMessage().string(1, key).message(2, protoValue(value)));
  }
  info.double(5, wallTime);
  return hparamsEvent('_hparams_/session_start_info', 3, info, wallTime);
}

/**
 * `_hparams_/experiment`: Experiment { time_created_secs = 3; repeated HParamInfo hparam_infos = 4 { name = 1;
 * type = 4 }; repeated MetricInfo metric_infos = 5 { name = 1 MetricName { tag = 2 } } } in HParamsPluginData
 * field 2. The metrics are the scalar tags of the same run (MetricName.group empty).
 */
export function experimentEvent(
  hparams: Record<string, HParamValue>,
  metricTags: readonly string[],
  createdSecs: number,
  wallTime: number,
): Uint8Array {
  const experiment = new ProtoMessage().double(3, createdSecs);
  for (const [name, value] of Object.entries(hparams)) {
    const type = typeof value === 'number' ? HPARAM_FLOAT64 : typeof value === 'boolean' ? HPARAM_BOOL : HPARAM_STRING;
    experiment.message(4, new ProtoMessage().string(1, name).int(4, type));
  }
  for (const tag of metricTags) {
    experiment.message(5, new ProtoMessage().message(1, new ProtoMessage().string(2, tag)));
  }
  return hparamsEvent('_hparams_/experiment', 2, experiment, wallTime);
}

/** `_hparams_/session_end_info`: SessionEndInfo { status = 1; end_time_secs = 2 } in HParamsPluginData field 4. */
export function sessionEndEvent(status: number, wallTime: number): Uint8Array {
  const info = new ProtoMessage();
  if (status !== 0) info.int(1, status);
  info.double(2, wallTime);
  return hparamsEvent('_hparams_/session_end_info', 4, info, wallTime);
}
