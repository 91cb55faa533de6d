"""Motion-capture files: BVH reading (``bvh``) and writing (``bvh_writer``), skeleton families
(``families``) and conversion of any supported BVH to the canonical skeleton (``convert``)."""
