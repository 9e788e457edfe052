"""Resampling a stream chunk by chunk (audio of another rate than the model's)."""

from __future__ import annotations

from math import gcd

import numpy as np


class StreamResampler:
    """Chunk-by-chunk polyphase resampling, equal to :func:`scipy.signal.resample_poly` on
    the whole signal (same Kaiser-windowed FIR, same delay compensation)."""

    def __init__(self, rate_in: int, rate_out: int) -> None:
        from scipy.signal import firwin

        g = gcd(rate_in, rate_out)
        self.up, self.down = rate_out // g, rate_in // g
        max_rate = max(self.up, self.down)
        half_len = 10 * max_rate  # scipy's default filter half-length
        h = firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0)) * self.up
        self.taps = int(np.ceil(len(h) / self.up))
        h = np.concatenate([h, np.zeros(self.taps * self.up - len(h))])
        # poly[p, t] multiplies x[i0 - t] for outputs whose upsampled index is i0*up + p.
        self.poly = h.reshape(self.taps, self.up).T.copy()
        self.delay = half_len  # in upsampled samples
        self._x = np.zeros(0, dtype=np.float64)  # input samples kept (history + pending)
        self._x0 = 0  # input index of self._x[0]
        self._n_in = 0
        self._n_out = 0  # outputs produced

    def _outputs(self, last_input: int) -> np.ndarray:
        """Outputs that need inputs only up to index ``last_input`` (exclusive)."""
        # output m reads inputs up to floor((m*down + delay) / up)
        m_end = (last_input * self.up - self.delay - 1) // self.down + 1
        m = np.arange(self._n_out, max(self._n_out, m_end))
        if len(m) == 0:
            return np.zeros(0, dtype=np.float32)
        pos = m * self.down + self.delay
        i0, phase = pos // self.up, pos % self.up
        idx = i0[:, None] - np.arange(self.taps)[None, :] - self._x0
        vals = np.where(idx >= 0, self._x[np.clip(idx, 0, len(self._x) - 1)], 0.0)
        self._n_out += len(m)
        keep = max(0, (self._n_out * self.down + self.delay) // self.up - self.taps + 1 - self._x0)
        self._x, self._x0 = self._x[keep:], self._x0 + keep
        return np.einsum("mt,mt->m", vals, self.poly[phase]).astype(np.float32)

    def feed(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        self._x = np.concatenate([self._x, x])
        self._n_in += len(x)
        return self._outputs(self._n_in)

    def flush(self) -> np.ndarray:
        """The remaining outputs (``ceil(n_in * up / down)`` in all), zeros assumed after."""
        total = -(-self._n_in * self.up // self.down)
        pad = self.taps + (self.delay // self.up) + 2
        self._x = np.concatenate([self._x, np.zeros(pad)])
        out = self._outputs(self._n_in + pad)
        return out[:max(0, total - (self._n_out - len(out)))]
