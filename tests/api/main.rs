//! Integration tests: a real Terril server bound to port 0, read by real HTTP and MVT clients.

mod archives;
mod cli;
mod data;
mod deploy;
mod edges;
mod gdal;
mod hardening;
mod http;
mod ogc;
mod postgis;
mod queries;
mod stall;
mod support;
mod tiles;
