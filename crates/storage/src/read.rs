//! Reading the table: following its log, its live files and their statistics, scans, and a
//! session's rows straight from the pages that hold them.

pub(crate) mod file_statistics;
pub(crate) mod followed_log;
pub(crate) mod live_files;
pub(crate) mod page_index_cache;
pub(crate) mod scan;
pub(crate) mod session_rows;
