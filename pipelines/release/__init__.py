"""Release: versioned Parquet, datapackage, diff, citation, catalog pages, push."""
