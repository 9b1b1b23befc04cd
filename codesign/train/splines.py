"""Trigger functions f(pT1), g(pT4): monotone rational-quadratic splines to the signal posterior (paper 3.3).

u = 1.5 (log(1 + pT/GeV) - 4) is mapped by a 16-knot spline on [-5, 5] (identity outside) to a
logit; q = sigmoid(logit) estimates p(signal | pT). Only training uses them: being monotone,
they reduce to a threshold on pT in the firmware. The penalty lambda * mean(f''^2) smooths them.
"""

from __future__ import annotations

import tensorflow_probability as tfp

from codesign.train.config import HYPER
from codesign.train.quantiser import inverse_softplus
from codesign.train.tf_setup import DTYPE, tf

_RANGE = 5.0
_MIN_BIN, _MIN_SLOPE = 1e-2, 1e-3
_CURVATURE_POINTS = 101


class TriggerSpline(tf.keras.layers.Layer):
    """pT (GeV) -> logit of the signal posterior, monotone in pT; starts as the identity in u."""

    def __init__(self, **kwargs) -> None:
        super().__init__(dtype=DTYPE, autocast=False, **kwargs)
        bins = HYPER.spline_knots - 1
        self.widths = self.add_weight(name="widths", shape=(bins,), dtype=DTYPE, initializer="zeros")
        self.heights = self.add_weight(name="heights", shape=(bins,), dtype=DTYPE, initializer="zeros")
        self.slopes = self.add_weight(name="slopes", shape=(bins - 1,), dtype=DTYPE,
                                      initializer=tf.keras.initializers.Constant(inverse_softplus(1.0 - _MIN_SLOPE)))

    def _spline(self) -> tfp.bijectors.RationalQuadraticSpline:
        bins = HYPER.spline_knots - 1

        def sizes(p: tf.Tensor) -> tf.Tensor:
            return tf.nn.softmax(p) * (2 * _RANGE - bins * _MIN_BIN) + _MIN_BIN

        return tfp.bijectors.RationalQuadraticSpline(sizes(self.widths), sizes(self.heights),
                                                     tf.math.softplus(self.slopes) + _MIN_SLOPE, range_min=-_RANGE)

    def call(self, pt: tf.Tensor) -> tf.Tensor:
        u = 1.5 * (tf.math.log1p(tf.cast(pt, DTYPE)) - 4.0)
        # one extra point, dropped again: the bijector's gradient fails on an empty batch, which a
        # data-parallel replica gets when a short last batch has fewer events than replicas
        return self._spline().forward(tf.concat([u, tf.zeros((1,), u.dtype)], axis=0))[:-1]

    def curvature_penalty(self) -> tf.Tensor:
        """lambda * mean of the squared second derivative over the spline's range (finite differences)."""
        u = tf.linspace(tf.constant(-_RANGE, DTYPE), _RANGE, _CURVATURE_POINTS)
        f = self._spline().forward(u)
        h = 2 * _RANGE / (_CURVATURE_POINTS - 1)
        second = (f[2:] - 2 * f[1:-1] + f[:-2]) / h**2
        return HYPER.spline_lambda * tf.reduce_mean(second**2)
