"""zeta_rmt.launch"""
