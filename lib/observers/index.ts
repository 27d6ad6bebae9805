// observers: torch.ao.quantization's MinMaxObserver and the calibration of output qparams a state dict lacks.
export { MinMaxObserver } from './observer';
export type { MinMaxObserverOptions, ObserverQScheme, QParams } from './observer';
export { UNSAVED_QPARAMS_MODULES, calibrate, loadOutputQParams, markUncalibrated, requireOutputQParams, uncalibratedModules } from './calibrate';
export type { CalibrateOptions } from './calibrate';
