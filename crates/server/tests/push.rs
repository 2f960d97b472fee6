use crate::util::app;
