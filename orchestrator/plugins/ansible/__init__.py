"""Kestra's Ansible plugin: ``io.kestra.plugin.ansible.cli.AnsibleCLI`` on the Process task runner."""
