"""zeta_rmt.baselines"""
