"""Shared setup for the package tests (not the notebooks: nbval kernels are separate processes)."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    """The tests' models are tiny: their matmuls run up to 20x slower with 2 threads fighting over 2
    cores than on one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
