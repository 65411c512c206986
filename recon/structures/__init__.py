"""The data model: small typed dataclasses that every plugin exchanges.

Arrays are NumPy (float32 geometry, uint8 images); conversions to PyTorch3D and trimesh live on
the classes that own them and import those libraries lazily.
"""

from recon.structures.camera import Camera
from recon.structures.depth import DepthMap
from recon.structures.frame import Frame
from recon.structures.inputs import Inputs
from recon.structures.landmarks import Landmarks
from recon.structures.mesh import Mesh
from recon.structures.pointcloud import PointCloud
from recon.structures.reconstruction import Animation, Reconstruction

__all__ = [
    "Animation",
    "Camera",
    "DepthMap",
    "Frame",
    "Inputs",
    "Landmarks",
    "Mesh",
    "PointCloud",
    "Reconstruction",
]
