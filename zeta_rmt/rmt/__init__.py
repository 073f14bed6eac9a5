"""zeta_rmt.rmt"""
