"""Type stub of the native module ``fastrl._fastrl`` (PyO3, ``bindings/fastrl-python/src/lib.rs``).

Every name the module's init registers, with the Rust signatures' argument names: PyO3
makes every argument positional-or-keyword, and ``Option<T>`` arguments without a
``#[pyo3(signature = ...)]`` default are required (they accept None). Argument types
follow PyO3's extraction: ``PyReadonlyArray1<f32>`` takes only a 1-D float32 NumPy array
(``u8``: uint8, ``u32``: uint32), ``Vec<T>`` any sequence (not ``str``), ``f32`` / ``f64``
a float (or int), ``usize`` / ``u64`` / ``i64`` an int, ``bool`` a bool, ``&[u8]``
bytes. ``Vec<T>`` results are lists, ``PyArray1<f32>`` results float32 arrays. Errors
from the core are raised as ``ValueError``. Keep in step with ``lib.rs``
(``tests/test_typing.py`` checks that the names match the built module).
"""

from typing import Any, Final, Optional, Sequence, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "Defaults",
    "MAX_REWARDS",
    "RECORD_LEN",
    "RawComposer",
    "WordNet",
    "compose_flat",
    "defaults",
    "fused_flat",
    "gae_flat",
    "group_advantages_flat",
    "kl_penalty_flat",
    "length_band",
    "meteor",
    "reference_stats_flat",
    "rouge_l",
    "rouge_n",
    "sentence_bleu",
    "vader_compound",
    "whiten_flat",
]

#: Length in bytes of a composer's state record (``RawComposer.state_bytes``).
RECORD_LEN: Final[int]
#: Most rewards a composer holds.
MAX_REWARDS: Final[int]

def gae_flat(
    rewards: npt.NDArray[np.float32],
    values: npt.NDArray[np.float32],
    mask: npt.NDArray[np.uint8],
    batch: int,
    len: int,
    gamma: float,
    lam: float,
    mode_name: str,
    whiten: bool,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """GAE and returns on flat ``[batch * len]`` arrays: ``(advantages, returns)``."""

def kl_penalty_flat(
    rewards: npt.NDArray[np.float32],
    logp: npt.NDArray[np.float32],
    ref_logp: npt.NDArray[np.float32],
    mask: npt.NDArray[np.uint8],
    batch: int,
    len: int,
    beta: float,
    estimator_name: str,
    mode_name: str,
) -> tuple[npt.NDArray[np.float32], float]:
    """``rewards - beta * kl(logp, ref_logp)`` at valid tokens: ``(out, kl_sum)``."""

def compose_flat(
    rewards: Sequence[npt.NDArray[np.float32]],
    dense: Sequence[bool],
    weights: npt.NDArray[np.float32],
    mask: npt.NDArray[np.uint8],
    batch: int,
    len: int,
    mode_name: str,
) -> npt.NDArray[np.float32]:
    """Eq. (6) over flat channels (``dense[i]``: per token, else per row)."""

def fused_flat(
    rewards: Sequence[npt.NDArray[np.float32]],
    dense: Sequence[bool],
    weights: npt.NDArray[np.float32],
    logp: npt.NDArray[np.float32],
    ref_logp: npt.NDArray[np.float32],
    values: npt.NDArray[np.float32],
    mask: npt.NDArray[np.uint8],
    batch: int,
    len: int,
    gamma: float,
    lam: float,
    beta: float,
    estimator_name: str,
    mode_name: str,
) -> tuple[
    npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32], int, float, float
]:
    """The fused pass: ``(rewards, advantages, returns, valid_tokens, kl_sum, reward_sum)``."""

def whiten_flat(x: npt.NDArray[np.float32], mask: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """Masked whitening, returned as a new array."""

def group_advantages_flat(
    rewards: Sequence[npt.NDArray[np.float32]],
    dense: Sequence[bool],
    weights: npt.NDArray[np.float32],
    groups: npt.NDArray[np.uint32],
    num_groups: int,
    mask: npt.NDArray[np.uint8],
    batch: int,
    len: int,
    estimator: str,
    scale: str,
    convention: str,
    whiten: Optional[bool],
    group_size: Optional[int],
) -> tuple[npt.NDArray[np.float32], int, int, int]:
    """Group-relative advantages: ``(advantages [batch], groups, singletons, zero_variance)``."""

def reference_stats_flat(scores: Sequence[Sequence[float]]) -> tuple[list[float], list[float]]:
    """Per reward, mean and unbiased std of calibration scores."""

@final
class Defaults:
    """The core's defaults (``defaults.rs``), names as the Python keywords take them."""

    @property
    def gamma(self) -> float: ...
    @property
    def lam(self) -> float: ...
    @property
    def beta(self) -> float: ...
    @property
    def estimator(self) -> str: ...
    @property
    def temperature(self) -> float: ...
    @property
    def normalize(self) -> str: ...
    @property
    def compose_on(self) -> str: ...
    @property
    def rule(self) -> str: ...
    @property
    def radius(self) -> float: ...
    @property
    def averaging(self) -> bool: ...
    @property
    def floor(self) -> float: ...
    @property
    def group_estimator(self) -> str: ...
    @property
    def group_scale(self) -> str: ...
    @property
    def convention(self) -> str: ...
    @property
    def lagrangian_lr(self) -> float: ...
    @property
    def squash(self) -> str: ...
    @property
    def lagrangian_init(self) -> float: ...
    @property
    def max_multiplier(self) -> float: ...
    @property
    def lagrangian_normalize(self) -> bool: ...

def defaults() -> Defaults:
    """The core's defaults: ``GaeParams``, ``FusedParams``, ``FastRlConfig``,
    ``GroupParams``, ``LagrangianConfig``."""

@final
class RawComposer:
    """A composer behind the core's ``Composer`` trait. No constructor: made by the static
    methods."""

    @staticmethod
    def fastrl(
        n: int,
        eta: float,
        temperature: float,
        bias: Optional[Sequence[float]],
        smoothing: str,
        a: float,
        b: float,
        normalization: str,
        floor: float,
        compose_on: str,
        rule: str,
        radius: float,
        averaging: bool,
        horizon: int,
        signal_range: float,
    ) -> RawComposer:
        """Fast RL; ``horizon > 0`` selects eta "auto"."""
    def set_reference(self, mean: Sequence[float], std: Sequence[float]) -> None:
        """Fast RL only: sets the reference statistics."""
    def reference(self) -> Optional[tuple[list[float], list[float]]]:
        """Fast RL only: ``(mean, std)``, or None before calibration."""
    def composition(self) -> tuple[npt.NDArray[np.float32], float]:
        """Fast RL only: Eq. (6)'s weights on the raw rewards and the offset."""
    def eta(self) -> float:
        """Fast RL only: the step size in effect."""
    @staticmethod
    def fixed(weights: Sequence[float]) -> RawComposer:
        """Fixed linear weights."""
    @staticmethod
    def shaping(alpha: float) -> RawComposer:
        """Reward shaping ``R - alpha * C``."""
    @staticmethod
    def lagrangian(
        base: Sequence[float],
        kinds: Sequence[str],
        thresholds: Sequence[float],
        lr: float,
        squash: str,
        init: float,
        max_multiplier: float,
        normalize: bool,
    ) -> RawComposer:
        """Lagrangian; ``kinds[i]`` is "free", "at_least" or "at_most"."""
    @staticmethod
    def safe_rlhf(threshold: float, lr: float, init: float, max_multiplier: float) -> RawComposer:
        """safe-rlhf's reward/cost Lagrangian."""
    def update(self, reward_means: Sequence[float]) -> npt.NDArray[np.float32]:
        """Consumes this batch's reward means; returns the weights to compose it with."""
    def weights(self) -> npt.NDArray[np.float32]:
        """The current weights."""
    def num_rewards(self) -> int:
        """Number of rewards."""
    def steps(self) -> int:
        """Updates done."""
    def state_bytes(self) -> bytes:
        """The state record (``RECORD_LEN`` bytes)."""
    def load_state_bytes(self, record: bytes) -> None:
        """Restores from a state record; nothing changes on error."""
    def diagnostics(self, reward_means: Sequence[float]) -> dict[str, Any]:
        """``weights`` (list of float), ``mean``, ``min``, ``argmin`` (int), ``disparity``,
        ``composite``, ``c``, ``c_bound``."""

def sentence_bleu(hypothesis: str, references: Sequence[str]) -> float:
    """``sacrebleu.sentence_bleu(hypothesis, references).score``."""

def rouge_l(target: str, prediction: str) -> tuple[float, float, float]:
    """ROUGE-L ``(precision, recall, fmeasure)``."""

def rouge_n(target: str, prediction: str, n: int) -> tuple[float, float, float]:
    """ROUGE-N ``(precision, recall, fmeasure)``."""

@final
class WordNet:
    """WordNet 3.0 loaded once from a directory (e.g. Debian's ``/usr/share/wordnet``)."""

    def __new__(cls, path: str) -> WordNet:
        """Loads WordNet from ``path``; ``ValueError`` if it cannot."""
    def synonyms(self, word: str) -> list[str]:
        """Lemma names of every synset of ``word``, sorted."""

def meteor(
    references: Sequence[Sequence[str]], hypothesis: Sequence[str], wordnet: Optional[WordNet] = None
) -> float:
    """nltk's ``meteor_score(references, hypothesis)`` over token lists."""

def vader_compound(text: str) -> float:
    """VADER's compound sentiment in ``[-1, 1]``."""

def length_band(text: str, lo: int, hi: int) -> float:
    """1 for ``lo`` to ``hi`` whitespace-separated words, else ``max(0, 1 - d / hi)``."""
