//! Helpers shared by the store's integration tests: those that run its
//! binary, and those that open a store in their own process.

#![allow(dead_code)] // each test file uses part of them

pub mod http;
pub mod in_process;
pub mod process;
