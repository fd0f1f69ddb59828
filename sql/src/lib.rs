//! Strata's SQL layer: the pgwire server, catalog, key codec and DataFusion
//! integration arrive with the SQL issue. Until then this crate is empty
//! on purpose: the workspace layout is fixed early so later work lands in
//! the right place.
