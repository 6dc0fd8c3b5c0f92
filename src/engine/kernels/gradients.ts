/**
 * Gradients of tfjs ops, replaced where tfjs's own build a tensor on the host at every backward pass: the
 * gradients of Sum and Mean multiply dy by `ones(x.shape)`, a host array the size of x uploaded each time
 * (every LayerNorm, the loss, per step). Broadcasting dy instead computes the same values (dy · 1 is dy,
 * exactly) on the device.
 */

import * as tf from '@tensorflow/tfjs-core';

/** dy (the reduced shape) broadcast back over the reduced axes of x's shape. */
function expand(dy: tf.Tensor, x: tf.Tensor, axis: number | number[]): tf.Tensor {
  const axes = tf.util.parseAxisParam(axis, x.shape);
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return tf.broadcastTo(tf.reshape(dy, kept), x.shape);
}

let registered = false;

export function registerDeviceGradients(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: tf.Sum,
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => ({ x: () => expand(dy as tf.Tensor, x!, (attrs as { axis: number[] }).axis) }),
  });
  tf.registerGradient({
    kernelName: tf.Mean,
    inputsToSave: ['x'],
    gradFunc: (dy, [x], attrs) => {
      const axis = (attrs as { axis: number[] }).axis;
      const axes = tf.util.parseAxisParam(axis, x!.shape);
      const size = axes.reduce((n, a) => n * x!.shape[a]!, 1);
      return { x: () => tf.div(expand(dy as tf.Tensor, x!, axis), size) };
    },
  });
}
