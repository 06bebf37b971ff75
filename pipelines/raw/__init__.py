"""Raw inputs: the one download path (mirror or upstream), the immutable archive, change detection."""
