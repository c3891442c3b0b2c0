/* A genuine shared library that is not an atlas plugin: it exports a function, but not
 * atlas_plugin_manifest_v1. */
__attribute__((visibility("default"))) int fixture_unrelated_function(int x) { return x * 2; }
