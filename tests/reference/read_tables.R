# Reads every exported table in R, independently of census: pyarrow (through reticulate) reads
# the Parquet file and hands R plain Python lists, one per column, which R turns into vectors
# (a list column stays a list). No pandas is involved: Debian's reticulate cannot convert
# pandas 3 frames.
#
# Usage: Rscript read_tables.R DIR
# Prints one JSON object: for each `<table>.parquet` in DIR, its row count, its column names,
# and per column its R class, the number of missing values and, for numeric and logical
# columns, the sum of the others (list columns: the total number of items).
library(reticulate)
library(jsonlite)

pq <- import("pyarrow.parquet", convert = FALSE)

as_vector <- function(values) {
  if (length(values) == 0) return(values)
  if (any(vapply(values, function(v) length(v) != 1 || is.list(v), logical(1)))) {
    return(lapply(values, function(v) if (is.null(v)) NULL else unlist(v)))
  }
  unlist(lapply(values, function(v) if (is.null(v)) NA else v))
}

describe <- function(path) {
  table <- pq$read_table(path)
  names <- py_to_r(table$column_names)
  columns <- lapply(names, function(name) {
    values <- as_vector(py_to_r(table$column(name)$to_pylist()))
    missing <- if (is.list(values)) 0L else sum(is.na(values))
    total <- if (is.list(values)) {
      sum(lengths(values))
    } else if (is.numeric(values) || is.logical(values)) {
      sum(as.numeric(values), na.rm = TRUE)
    } else {
      NA
    }
    list(class = class(values)[1], missing = missing, total = total)
  })
  names(columns) <- names
  list(rows = py_to_r(table$num_rows), columns = names, column = columns)
}

folder <- commandArgs(trailingOnly = TRUE)[1]
files <- sort(list.files(folder, pattern = "\\.parquet$", full.names = TRUE))
tables <- lapply(files, describe)
names(tables) <- sub("\\.parquet$", "", basename(files))
cat(toJSON(tables, auto_unbox = TRUE, digits = NA, na = "null"))
