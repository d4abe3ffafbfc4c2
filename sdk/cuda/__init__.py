"""CUDA streams, pinned and device buffers: one interface, cuda-python and pycuda."""
