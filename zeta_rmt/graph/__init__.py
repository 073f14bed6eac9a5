"""zeta_rmt.graph"""
