# Installation layout and the Debian package (`cmake --build build --target package`,
# or `cpack --config build/CPackConfig.cmake`): gpudoctor in /usr/bin, its helpers in
# /usr/libexec/gpudoctor (util::helper_exe finds them there), the watch unit in
# /lib/systemd/system (not enabled: the operator runs systemctl enable), and the
# engine files (Slurm, Prometheus, Grafana, Kubernetes/NPD, systemd drop-ins) under
# /usr/share/gpudoctor. gpudoctor(1) is generated from the binary's --help texts by
# scripts/make-man. Tested by tests/e2e/package_test.py (lintian, dpkg --root).
include(GNUInstallDirs)

set(GD_MAN ${CMAKE_BINARY_DIR}/man/gpudoctor.1)
add_custom_command(OUTPUT ${GD_MAN}.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
  COMMAND python3 ${CMAKE_SOURCE_DIR}/scripts/make-man $<TARGET_FILE:gpudoctor> ${GD_MAN}
  COMMAND gzip -9nf ${GD_MAN}
  DEPENDS gpudoctor ${CMAKE_SOURCE_DIR}/scripts/make-man
  COMMENT "gpudoctor(1) from --help")
set(GD_CHANGELOG ${CMAKE_BINARY_DIR}/packaging/changelog.gz)
add_custom_command(OUTPUT ${GD_CHANGELOG}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/packaging
  COMMAND ${CMAKE_COMMAND} -E copy ${CMAKE_SOURCE_DIR}/packaging/debian/changelog ${CMAKE_BINARY_DIR}/packaging/changelog
  COMMAND gzip -9nf ${CMAKE_BINARY_DIR}/packaging/changelog
  DEPENDS ${CMAKE_SOURCE_DIR}/packaging/debian/changelog)
add_custom_target(package_files ALL DEPENDS ${GD_MAN}.gz ${GD_CHANGELOG})

install(TARGETS gpudoctor RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS gpudoctor-worker gpudoctor-churn-child RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/gpudoctor)
install(FILES ${GD_MAN}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES deploy/systemd/gpudoctor-watch.service DESTINATION /lib/systemd/system)
install(FILES deploy/systemd/nvidia-persistenced.override.conf deploy/systemd/README.md
        DESTINATION ${CMAKE_INSTALL_DATADIR}/gpudoctor/systemd)
install(PROGRAMS deploy/slurm/gpudoctor-health-check deploy/slurm/gpudoctor-epilog
        DESTINATION ${CMAKE_INSTALL_DATADIR}/gpudoctor/slurm)
install(FILES deploy/slurm/slurm.conf.snippet deploy/slurm/README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/gpudoctor/slurm)
install(DIRECTORY deploy/prometheus deploy/grafana deploy/kubernetes DESTINATION ${CMAKE_INSTALL_DATADIR}/gpudoctor)
install(FILES ${GD_CHANGELOG} DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES packaging/debian/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME gpudoctor)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_CONTACT "gpudoctor developers <gpudoctor@example.org>")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "nvidia-persistenced, slurm-client, prometheus")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "diagnoses, watches and repairs NVIDIA GPU nodes")
# The long description; CPack puts the summary above it and indents each line.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "gpudoctor answers in milliseconds and never hangs, even on a wedged driver:
every NVML and CUDA call runs in a worker process under a deadline. It
explains each finding with its evidence, cause and fix, keeps a history
and a health ledger that clears only when recovery is proven, repairs
what can be repaired, and plugs into Slurm (health check, epilog, repair
loop), Prometheus (metrics, alerts, Grafana dashboard), Kubernetes
(DaemonSet, node-problem-detector) and systemd.")
include(CPack)

# The package itself, end to end: cpack, lintian, dpkg --root -i into a throwaway root, the installed binary run.
add_test(NAME package COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/e2e/package_test.py ${CMAKE_BINARY_DIR}
         $<TARGET_FILE_DIR:nvml_sim>)
set_tests_properties(package PROPERTIES TIMEOUT 240 SKIP_RETURN_CODE 77)
