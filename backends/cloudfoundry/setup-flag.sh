if ! cf feature-flag diego_docker | grep -q enabled; then
  echo "setup.sh: docker apps need the diego_docker feature flag: cf enable-feature-flag diego_docker (an admin can)" >&2
  exit 1
fi
