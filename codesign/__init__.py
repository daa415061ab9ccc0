"""codesign: FPGA co-design of quantized neural networks.

Importing the package does nothing but define names: no environment is read, no tool is
probed and no seed is set until a function asks for it.
"""

__version__ = "0.1.0"
