# Packaging (included from the root CMakeLists.txt): Debian packages and a tarball.
#
#   cmake --build build && (cd build && cpack)        # -> build/packages/
#     atlas-host_<ver>_amd64.deb     component host: bin/atlas-host + first-party plugins in
#                                    lib/atlas/plugins/abi1 (found relative to the executable),
#                                    example configs and the quickstart scenario in share/atlas-host
#     atlas-sdk-dev_<ver>_all.deb    component sdk: include/atlas/*, lib/cmake/AtlasSDK
#     atlas-host-<ver>-Linux.tar.gz  both components, relocatable (unpack anywhere)
#
# Configure with the default prefix (libdir "lib"): the host finds its plugins in
# <exe dir>/../lib/atlas/plugins/abi1, so a multiarch libdir (lib/x86_64-linux-gnu, what
# GNUInstallDirs picks for -DCMAKE_INSTALL_PREFIX=/usr) would hide them from it.

# Data atlas-host reads at run time, installed with the host under share/atlas-host (found
# relative to the executable, <exe dir>/../share/atlas-host): the example configs and the
# quickstart scenario, and the example command agent configs/command-agent.toml runs (kept at
# the same path relative to configs/ as in the source tree).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/configs/ DESTINATION ${CMAKE_INSTALL_DATADIR}/atlas-host/configs
  COMPONENT host)
install(PROGRAMS ${PROJECT_SOURCE_DIR}/plugins/adapters/command/examples/echo_agent.py
  DESTINATION ${CMAKE_INSTALL_DATADIR}/atlas-host/plugins/adapters/command/examples COMPONENT host)

# The installed SDK must provide the target name plugin projects use (Atlas::sdk, as in the
# build tree's alias); without EXPORT_NAME the export would be Atlas::atlas_sdk.
set_target_properties(atlas_sdk PROPERTIES EXPORT_NAME sdk)

# AtlasSDKConfig.cmake checks that the plugin directory exists (set_and_check): the SDK
# package ships it empty so a vendor with only atlas-sdk-dev installed can build. dpkg lets
# both packages own the same directory.
install(DIRECTORY DESTINATION ${ATLAS_PLUGIN_INSTALL_DIR} COMPONENT sdk)

set(CPACK_PACKAGE_NAME "atlas-host")
set(CPACK_PACKAGE_VENDOR "atlas-host project")
set(CPACK_PACKAGE_CONTACT "atlas-host maintainers <maintainers@atlas-host.invalid>")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Native runtime for continual learning from agent workflows")
set(CPACK_PACKAGE_FILE_NAME "atlas-host-${PROJECT_VERSION}-${CMAKE_SYSTEM_NAME}")
set(CPACK_PACKAGE_DIRECTORY "${CMAKE_BINARY_DIR}/packages")
set(CPACK_GENERATOR "DEB;TGZ")
set(CPACK_COMPONENTS_ALL host sdk)
set(CPACK_STRIP_FILES OFF)

# Debian: one package per component.
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_DEBIAN_PACKAGE_SECTION "devel")
set(CPACK_DEBIAN_HOST_PACKAGE_NAME "atlas-host")
set(CPACK_DEBIAN_HOST_PACKAGE_SECTION "utils")
set(CPACK_DEBIAN_HOST_DESCRIPTION
  "Native runtime for continual learning from agent workflows\n atlas-host runs agent tasks through a student/teacher loop, scores them with judges,\n stores sessions in SQLite or PostgreSQL and exports training data. Includes the\n first-party adapter, judge, probe and storage plugins.")
# Runtime libraries of atlas-host and of every plugin in the package, computed by
# dpkg-shlibdeps (dpkg-dev) from the ELF files themselves.
set(CPACK_DEBIAN_HOST_PACKAGE_SHLIBDEPS ON)
# Not visible to shlibdeps: MCP servers and the npm clients are run as programs.
set(CPACK_DEBIAN_HOST_PACKAGE_SUGGESTS "nodejs, npm, postgresql")
set(CPACK_DEBIAN_SDK_PACKAGE_NAME "atlas-sdk-dev")
set(CPACK_DEBIAN_SDK_PACKAGE_ARCHITECTURE "all")
set(CPACK_DEBIAN_SDK_PACKAGE_SECTION "libdevel")
set(CPACK_DEBIAN_SDK_DESCRIPTION
  "SDK for atlas-host plugins (C ABI header, header-only C++ layer, CMake package)\n Build adapter, judge, probe and storage plugins with find_package(AtlasSDK) and\n atlas_add_plugin(); no atlas-host library is linked.")
set(CPACK_DEBIAN_SDK_PACKAGE_RECOMMENDS "cmake (>= 3.20), g++ | clang, rapidjson-dev")

# The tarball holds both components in one relocatable tree.
set(CPACK_ARCHIVE_COMPONENT_INSTALL OFF)

include(CPack)
cpack_add_component(host DISPLAY_NAME "atlas-host and first-party plugins")
cpack_add_component(sdk DISPLAY_NAME "Plugin SDK")
