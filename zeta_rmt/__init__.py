"""zeta_rmt: graph neural networks on the Riemann zeta zeros under random-matrix priors."""

__version__ = "0.1.0"
