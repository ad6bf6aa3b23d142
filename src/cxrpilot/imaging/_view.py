"""placeholder"""
def lateral_probability(pixels):
    raise NotImplementedError
def check_frontal(pixels, *, source):
    return None
