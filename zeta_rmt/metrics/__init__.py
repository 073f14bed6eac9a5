"""zeta_rmt.metrics"""
