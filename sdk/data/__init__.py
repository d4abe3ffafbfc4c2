"""Sample photos shipped with restyle (public domain / CC0; see NOTICE.md): restyle.samples."""
