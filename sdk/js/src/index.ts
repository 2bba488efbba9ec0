/**
 * @keyprint/sdk — keyprint's browser SDK. `Edge` turns raw keystrokes and mouse samples into the
 * content-free records of docs/EDGE.md (version 2); `Recorder` listens to a page, feeds an Edge and ships
 * the records. No key identity sequence ever leaves the Recorder: only records.
 */
export { Edge, validPhraseId } from "./edge.js";
export type { EdgeConfig, Phrase, WireRecord, DeviceEvent, KeyRouting } from "./edge.js";
export { keyClass, summarize, VOCAB_VERSION, SUMMARY_DIM, MIN_WINDOW_KEYS } from "./vocab.js";
export type { KeyEvent } from "./vocab.js";
export { InjectionDetector, isModifier } from "./injection.js";
export { Segmenter, actionFeatures, N_FEATURES } from "./mouse.js";
export type { MouseEvent_ as MouseSample, Action, ActionKind } from "./mouse.js";
export { Recorder } from "./recorder.js";
export type { RecorderConfig, RecorderStats } from "./recorder.js";
export { Transport } from "./transport.js";
export type { TransportConfig, TransportStats } from "./transport.js";
