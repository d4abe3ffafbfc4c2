"""The page's files (HTML, JavaScript, CSS): package data, served as they are."""
