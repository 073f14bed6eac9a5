"""zeta_rmt.report"""
