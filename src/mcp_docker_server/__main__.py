from mcp_docker_server.cli import main

main()
