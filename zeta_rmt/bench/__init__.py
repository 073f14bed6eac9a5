"""zeta_rmt.bench"""
