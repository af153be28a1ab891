package store

// RetentionErrorForTest is retentionError, for store_test.
var RetentionErrorForTest = retentionError
